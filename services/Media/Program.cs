using Platform.Media;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddPlatformAuthentication();
builder.AddPlatformBus(bus => bus.AddMediaConsumers());
builder.AddMedia();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapMediaEndpoints();
app.Run();

public partial class Program;
