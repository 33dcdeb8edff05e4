// A real MQTT broker for the bridge's tests (aedes): plain MQTT on one port, MQTT over WebSocket
// on another at a path, over TLS when given a certificate. Ports 0 ask the system for free ones;
// the line "listening tcp N ws M" tells the test which.
//
//   node broker.js --path /mqtt [--cert FILE --key FILE]
const net = require('node:net')
const http = require('node:http')
const https = require('node:https')
const fs = require('node:fs')
const { Aedes } = require('aedes')
const { WebSocketServer, createWebSocketStream } = require('ws')

const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : undefined
}

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))

async function main () {
  const aedes = await Aedes.createBroker()
  const tcp = net.createServer(aedes.handle)
  const web = arg('cert')
    ? https.createServer({ cert: fs.readFileSync(arg('cert')), key: fs.readFileSync(arg('key')) })
    : http.createServer()
  // `ws` answers the first subprotocol the client offers: "mqtt", which MQTT clients check.
  const wss = new WebSocketServer({ server: web, path: arg('path') || '/mqtt' })
  wss.on('connection', (socket, req) => aedes.handle(createWebSocketStream(socket), req))
  await listen(tcp)
  await listen(web)
  console.log(`listening tcp ${tcp.address().port} ws ${web.address().port}`)
}

main().catch((e) => { console.error(e); process.exit(1) })
