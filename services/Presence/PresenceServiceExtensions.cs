using MassTransit;
using Platform.Presence.Consumers;
using Platform.Presence.Data;
using Platform.ServiceDefaults;

namespace Platform.Presence;

public static class PresenceServiceExtensions
{
    public static IHostApplicationBuilder AddPresence(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<PresenceOptions>().BindConfiguration(PresenceOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // Nothing is left on a session (transactions only): pooled connections are not reset on return.
        builder.AddPlatformPostgres(resetOnClose: false);
        builder.Services.AddSingleton<PresenceSchema>();
        builder.Services.AddHealthChecks().AddCheck<PresenceSchema>(PresenceSchema.Name, tags: [HealthEndpoints.ReadyTag]);
        builder.Services.AddSingleton<PresenceStore>();
        builder.Services.AddSingleton<PresencePublisher>();
        builder.Services.AddHostedService<PresenceSweeper>();
        builder.AddConversationLogBackfill<ConversationLogReplay>();
        return builder;
    }

    public static void AddPresenceConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<ConnectionConsumer>();
        bus.AddConsumer<ActivityConsumer, ActivityConsumerDefinition>();
        bus.AddConsumer<UserErasureConsumer>();
    }
}
