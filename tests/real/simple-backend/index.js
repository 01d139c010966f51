const http = require("http");

const server = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ path: req.url, ok: true }));
});
server.listen(8000, () => console.log("listening on 8000"));
