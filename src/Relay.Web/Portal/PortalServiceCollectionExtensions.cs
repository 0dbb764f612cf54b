namespace Relay.Web.Portal;

public static class PortalServiceCollectionExtensions
{
    /// <summary>
    /// The portal connection: <see cref="PortalStatus"/> (always registered; disabled in standalone mode) and the
    /// hosted client. Register after the UDP service so the public addresses, listen port and secret are known.
    /// </summary>
    public static IServiceCollection AddRelayPortal(this IServiceCollection services)
    {
        services.AddSingleton<PortalStatus>();
        services.AddHostedService<PortalClient>();
        return services;
    }
}
