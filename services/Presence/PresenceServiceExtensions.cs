using Platform.ServiceDefaults;

namespace Platform.Presence;

public static class PresenceServiceExtensions
{
    public static IHostApplicationBuilder AddPresence(this IHostApplicationBuilder builder)
    {
        builder.AddPlatformPostgres();
        return builder;
    }
}
