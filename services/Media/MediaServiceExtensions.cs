using Platform.ServiceDefaults;

namespace Platform.Media;

public static class MediaServiceExtensions
{
    public static IHostApplicationBuilder AddMedia(this IHostApplicationBuilder builder)
    {
        builder.AddPlatformPostgres();
        return builder;
    }
}
