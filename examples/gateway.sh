# a stdio server behind OAuth, users signing in at an embedded IdP (dev / dev)
npx gatehouse serve --dev-idp --store memory -- npx -y @modelcontextprotocol/server-filesystem /tmp
# an HTTP server, your IdP, and routes from a file
npx gatehouse serve --config gatehouse.yaml
