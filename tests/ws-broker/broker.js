// A real MQTT broker for the bridge's tests (aedes, in its stock in-memory configuration).
//
//   node broker.js --path /mqtt [--cert FILE --key FILE]
//     plain MQTT on one port and MQTT over WebSocket at the path on another (over TLS with a
//     certificate); the system picks both, and the line "listening tcp N ws M" says which.
//   node broker.js --path /mqtt --tcp-port N --ws-port M --tls-port T --wss-port W --cert F --key K
//     every listener on the ports given (the broker interoperability test restarts it on them):
//     plain MQTT, MQTT over TLS, WebSocket and WebSocket over TLS.
const net = require('node:net')
const tls = require('node:tls')
const http = require('node:http')
const https = require('node:https')
const fs = require('node:fs')
const { Aedes } = require('aedes')
const { WebSocketServer, createWebSocketStream } = require('ws')

const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : undefined
}
const port = (name) => Number(arg(name) || 0)

const listen = (server, p) => new Promise((resolve, reject) => {
  server.once('error', reject)
  server.listen(p, '127.0.0.1', resolve)
})

async function main () {
  const aedes = await Aedes.createBroker()
  const path = arg('path') || '/mqtt'
  const certs = arg('cert') && { cert: fs.readFileSync(arg('cert')), key: fs.readFileSync(arg('key')) }
  // `ws` answers the first subprotocol the client offers: "mqtt", which MQTT clients check.
  const serveWs = (server) => {
    const wss = new WebSocketServer({ server, path })
    wss.on('connection', (socket, req) => aedes.handle(createWebSocketStream(socket), req))
    return server
  }
  const tcp = net.createServer(aedes.handle)
  await listen(tcp, port('tcp-port'))
  if (arg('tls-port') || arg('wss-port')) {
    // The interoperability layout: each listener on its own given port.
    await listen(serveWs(http.createServer()), port('ws-port'))
    await listen(tls.createServer(certs, aedes.handle), port('tls-port'))
    await listen(serveWs(https.createServer(certs)), port('wss-port'))
    console.log(`listening tcp ${tcp.address().port}`)
    return
  }
  const web = serveWs(certs ? https.createServer(certs) : http.createServer())
  await listen(web, 0)
  console.log(`listening tcp ${tcp.address().port} ws ${web.address().port}`)
}

main().catch((e) => { console.error(e); process.exit(1) })
