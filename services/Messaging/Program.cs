using Platform.Messaging;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddPlatformAuthentication();
builder.AddPlatformBus(bus => bus.AddMessagingConsumers());
builder.AddMessaging();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapMessagingEndpoints();
app.Run();

public partial class Program;
