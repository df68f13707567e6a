using Platform.Identity;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
// No AddPlatformAuthentication here: Identity validates its own access tokens with OpenIddict's local validation.
builder.AddPlatformBus();
builder.AddIdentityService();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapIdentityEndpoints();
app.Run();

public partial class Program;
