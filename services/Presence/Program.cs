using Platform.Presence;
using Platform.Presence.Features;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddPlatformAuthentication();
builder.AddPlatformBus(bus => bus.AddPresenceConsumers());
builder.AddPresence();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapPresenceEndpoints();
app.Run();

public partial class Program;
