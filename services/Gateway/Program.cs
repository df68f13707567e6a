using Platform.Gateway;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddPlatformAuthentication();
builder.AddPlatformBus(bus => bus.AddRealtimeConsumers());
builder.AddGateway();

var app = builder.Build();
app.UseGatewayCors();
app.MapDefaultEndpoints();
app.MapGateway();
app.Run();

public partial class Program;
