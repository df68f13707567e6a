using Platform.ServiceDefaults;

namespace Platform.Identity;

public static class IdentityServiceExtensions
{
    /// <summary>Identity's store: its own schema in PostgreSQL (EF Core migrations arrive with the accounts feature).</summary>
    public static IHostApplicationBuilder AddIdentityService(this IHostApplicationBuilder builder)
    {
        builder.AddPlatformPostgres();
        return builder;
    }
}
