const { v4: uuid } = require("uuid");
const ms = require("ms");

const message = { id: uuid(), ttl: ms("2 days"), text: "hello" };
console.log(JSON.stringify(message));
