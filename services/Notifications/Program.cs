using Platform.Notifications;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddPlatformAuthentication();
builder.AddPlatformBus(bus => bus.AddNotificationsConsumers());
builder.AddNotifications();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapNotificationsEndpoints();
app.Run();

public partial class Program;
