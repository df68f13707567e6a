using Platform.Samples.EchoBot;

// Settings from the environment (or command line): EchoBot__GatewayUrl, EchoBot__ClientId, EchoBot__ClientSecret,
// EchoBot__Listen and EchoBot__PublicUrl. See README.md.
var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build().GetSection("EchoBot");
await using var bot = await EchoBot.StartAsync(new EchoBotOptions
{
    GatewayUrl = new Uri(configuration["GatewayUrl"] ?? "http://localhost:5000/"),
    ClientId = configuration["ClientId"] ?? throw new InvalidOperationException("Set EchoBot__ClientId (from POST /api/v1/bots)."),
    ClientSecret = configuration["ClientSecret"] ?? throw new InvalidOperationException("Set EchoBot__ClientSecret (from POST /api/v1/bots)."),
    Listen = configuration["Listen"] ?? "http://0.0.0.0:8080",
    PublicUrl = configuration["PublicUrl"] is { } url ? new Uri(url) : null,
});
Console.WriteLine($"EchoBot {bot.UserId} listens at {bot.Address}; /echo is registered. Ctrl+C stops it.");
var stopped = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stopped.TrySetResult(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stopped.TrySetResult();
await stopped.Task;
