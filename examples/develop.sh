npm install               # set up: installs, builds the SQLite driver, compiles to dist/
npx gatehouse dev         # an IdP, Gatehouse and a demo MCP server on 127.0.0.1
npm test                  # typecheck, lint, and every test
