using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Relay.Web.Tests.Support;

/// <summary>
/// The in-memory test server has no sockets, so requests carry no local port. This filter (first in the pipeline)
/// sets the port a request "arrived on" from the X-Test-Local-Port header, to test the split between the public
/// and the control listener.
/// </summary>
public sealed class LocalPortFilter : IStartupFilter
{
    public const string Header = "X-Test-Local-Port";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((context, nextMiddleware) =>
        {
            if (context.Request.Headers.TryGetValue(Header, out var port))
            {
                context.Connection.LocalPort = int.Parse(port!);
                context.Connection.LocalIpAddress = System.Net.IPAddress.Loopback;
            }

            return nextMiddleware(context);
        });
        next(app);
    };
}
