const jwt = require("jsonwebtoken");

const token = jwt.sign({ sub: "user", roles: ["admin"] }, "stand-in-secret", { noTimestamp: true });
console.log(jwt.verify(token, "stand-in-secret").roles.join(","));
