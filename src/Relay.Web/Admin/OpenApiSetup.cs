using Microsoft.OpenApi;

namespace Relay.Web.Admin;

/// <summary>OpenAPI description of the admin API (Swashbuckle) and Swagger UI at /swagger, on the control endpoint.</summary>
public static class OpenApiSetup
{
    public static IServiceCollection AddRelayOpenApi(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "firezone-relay admin API",
                Version = "v1",
                Description = "Inspect and manage the relay: allocations, test credentials, status, the XDP maps and the log filter. " +
                    "Served on the control endpoint (--control-endpoint, 127.0.0.1:9999 by default). When an admin token is configured, " +
                    "send it as `Authorization: Bearer <token>` (the Authorize button). Errors are RFC 7807 problem+json.",
            });
            string xml = Path.Combine(AppContext.BaseDirectory, "firezone-relay.xml");
            if (File.Exists(xml))
            {
                options.IncludeXmlComments(xml);
            }

            options.AddSecurityDefinition("bearer", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The admin token (--admin-token / ADMIN_TOKEN); required when the control endpoint is not loopback.",
            });
            options.AddSecurityRequirement(document => new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference("bearer", document)] = [],
            });
        });
        return services;
    }

    public static WebApplication UseRelaySwaggerUi(this WebApplication app)
    {
        app.UseSwagger();
        app.UseSwaggerUI(options =>
        {
            options.DocumentTitle = "firezone-relay admin API";
            options.SwaggerEndpoint("/swagger/v1/swagger.json", "firezone-relay admin API v1");
        });
        return app;
    }
}
