// The official JavaScript SignalR client against the Gateway's hub, driven line by line (run by tests/Platform.Tests).
// Environment: GATEWAY (its base URL), TOKEN (an access token from Identity).
// stdout, one JSON object a line: {"ready":true} once connected; {"on":"event","arg":{...}} for every call the hub
// makes (event, receipt, typing, presence, notification, signal); {"id":n,"result":...} or {"id":n,"error":"..."} for
// each command; {"closed":"..."} if the connection drops.
// stdin, one JSON object a line: {"id":n,"invoke":"WatchPresence","args":[["<userId>"]]}. End of input stops the client.
const readline = require("node:readline");
const signalR = require("@microsoft/signalr");

const print = value => process.stdout.write(JSON.stringify(value) + "\n");

(async () => {
  const hub = new signalR.HubConnectionBuilder()
    .withUrl(`${process.env.GATEWAY.replace(/\/$/, "")}/hubs/chat`, { accessTokenFactory: () => process.env.TOKEN })
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  for (const method of ["event", "receipt", "typing", "presence", "notification", "signal", "ephemeral"])
    hub.on(method, arg => print({ on: method, arg }));
  hub.onclose(error => print({ closed: error ? String(error) : "closed" }));
  await hub.start();
  print({ ready: true });

  const commands = readline.createInterface({ input: process.stdin });
  commands.on("line", async line => {
    const command = JSON.parse(line);
    try {
      print({ id: command.id, result: (await hub.invoke(command.invoke, ...(command.args ?? []))) ?? null });
    } catch (error) {
      print({ id: command.id, error: String(error) });
    }
  });
  commands.on("close", async () => {
    await hub.stop();
    process.exit(0);
  });
})().catch(error => {
  console.error(error);
  process.exit(1);
});
