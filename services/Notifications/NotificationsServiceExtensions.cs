using JasperFx;
using Marten;
using Platform.ServiceDefaults;

namespace Platform.Notifications;

public static class NotificationsServiceExtensions
{
    public const string Schema = "notifications";

    public static IHostApplicationBuilder AddNotifications(this IHostApplicationBuilder builder)
    {
        builder.AddPlatformPostgres();
        builder.Services.AddMarten(options =>
            {
                options.DatabaseSchemaName = Schema;
                options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
            })
            .UseNpgsqlDataSource()
            .UseLightweightSessions();
        return builder;
    }
}
