using Platform.Identity;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddPlatformAuthentication();
builder.AddPlatformBus();
builder.AddIdentityService();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
