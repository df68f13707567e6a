using JasperFx;
using JasperFx.Events;
using Marten;
using Platform.ServiceDefaults;

namespace Platform.Messaging;

public static class MessagingServiceExtensions
{
    public const string Schema = "messaging";

    public static IHostApplicationBuilder AddMessaging(this IHostApplicationBuilder builder)
    {
        builder.AddPlatformPostgres();
        builder.Services.AddMarten(options =>
            {
                options.DatabaseSchemaName = Schema;
                options.Events.DatabaseSchemaName = Schema;
                options.Events.AppendMode = EventAppendMode.Quick;
                options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
            })
            .UseNpgsqlDataSource()
            .UseLightweightSessions();
        return builder;
    }
}
