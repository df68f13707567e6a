using Platform.Presence;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddPlatformAuthentication();
builder.AddPlatformBus();
builder.AddPresence();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
