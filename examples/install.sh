npm install mcp-gatehouse better-sqlite3     # the library and its default (SQLite) storage
npm install @modelcontextprotocol/sdk zod    # when you serve an MCP SDK server (mcp-gatehouse/mcp)
npm install express                          # or hono: whichever host you mount Gatehouse in
