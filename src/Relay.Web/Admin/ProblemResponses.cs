using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Relay.Web.Logging;

namespace Relay.Web.Admin;

/// <summary>
/// Every error either listener answers is RFC 7807 problem+json with a detail that says what to change: binding
/// failures (a query value that is not a number, a body that is not the JSON expected, the wrong media type), unknown
/// paths and methods, and the unexpected (500, logged).
/// </summary>
public static partial class ProblemResponses
{
    public static IServiceCollection AddRelayProblemResponses(this IServiceCollection services)
    {
        // Minimal APIs then throw BadHttpRequestException for binding failures instead of answering an empty 400.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.AddExceptionHandler<BadRequestHandler>();
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context => Describe(context.HttpContext, context.ProblemDetails));
        return services;
    }

    public static WebApplication UseRelayProblemResponses(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages(); // an empty 404, 405 or 415 becomes problem+json, described below
        return app;
    }

    /// <summary>Fills in title and detail for the statuses the framework answers without saying why.</summary>
    private static void Describe(HttpContext context, ProblemDetails problem)
    {
        HttpRequest request = context.Request;
        string route = $"{request.Method} {request.Path}";
        switch (problem.Status)
        {
            case StatusCodes.Status404NotFound when problem.Detail is null:
                problem.Title = "Not found";
                problem.Detail = $"There is nothing at {route} on this listener. The admin API is described at /swagger on the control endpoint (--control-endpoint); /healthz, /readyz and /metrics are on the health listener (--health-check-addr).";
                break;
            case StatusCodes.Status405MethodNotAllowed when problem.Detail is null:
                string allowed = context.Response.Headers.Allow.ToString();
                problem.Title = "Method not allowed";
                problem.Detail = $"{request.Path} does not take {request.Method}{(allowed.Length > 0 ? $"; it takes {allowed}" : string.Empty)}.";
                break;
            case StatusCodes.Status415UnsupportedMediaType when problem.Detail is null:
                problem.Title = "Unsupported media type";
                problem.Detail = $"Send the body of {route} as JSON with 'Content-Type: application/json'.";
                break;
        }
    }

    /// <summary>Turns the framework's binding failures into details a caller can act on; anything else is a 500.</summary>
    private sealed partial class BadRequestHandler(IProblemDetailsService problems, ILogger<BadRequestHandler> logger, TimeProvider time) : IExceptionHandler
    {
        private readonly LogRateLimiter _limiter = new(time);

        public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
        {
            int status;
            string title, detail;
            if (exception is BadHttpRequestException bad)
            {
                status = bad.StatusCode;
                (title, detail) = Explain(bad, context.Features.Get<IExceptionHandlerFeature>()?.Endpoint?.Metadata.GetMetadata<MethodInfo>());
            }
            else
            {
                status = StatusCodes.Status500InternalServerError;
                title = "Internal error";
                detail = "The relay failed to answer this request; its log has the details.";
                if (_limiter.TryAcquire("admin-error", out _))
                {
                    LogUnexpected(logger, context.Request.Method, context.Request.Path, exception);
                }
            }

            context.Response.StatusCode = status;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                Exception = exception,
                ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
            });
        }

        private static (string Title, string Detail) Explain(BadHttpRequestException bad, MethodInfo? handler)
        {
            if (bad.StatusCode == StatusCodes.Status415UnsupportedMediaType)
            {
                return ("Unsupported media type", "Send the body as JSON with 'Content-Type: application/json'.");
            }

            if (BindFailure().Match(bad.Message) is { Success: true } binding)
            {
                string name = binding.Groups["name"].Value, value = binding.Groups["value"].Value;
                ParameterInfo? parameter = handler?.GetParameters().FirstOrDefault(p => p.Name == name);
                string expected = Expected(parameter?.ParameterType, parameter?.GetCustomAttribute<RangeAttribute>());
                return ("Invalid request", $"{name} must be {expected}; '{value}' is not.");
            }

            if (bad.InnerException is JsonException json)
            {
                // "$.ttlSeconds": a member of the wrong type; "$": not an object, or not JSON at all.
                string? field = json.Path is { Length: > 2 } path ? path[2..] : null;
                bool syntax = json.BytePositionInLine is not null && !json.Message.Contains("could not be converted", StringComparison.Ordinal);
                return ("Invalid JSON body", (field, syntax) switch
                {
                    (_, true) => $"The body is not valid JSON (line {json.LineNumber + 1}, byte {json.BytePositionInLine + 1}); send one object like {{\"salt\": \"alice\", \"ttlSeconds\": 3600}}.",
                    (null, _) => "The body must be one JSON object, like {\"salt\": \"alice\", \"ttlSeconds\": 3600}.",
                    _ => $"{field} has the wrong type: {ExpectedOfMessage(json.Message)}.",
                });
            }

            if (bad.Message.Contains("body was not provided", StringComparison.OrdinalIgnoreCase))
            {
                return ("Invalid request", "This request needs a JSON body.");
            }

            return ("Invalid request", bad.Message);
        }

        /// <summary>"one whole number from 1 to 1000" for an int? parameter with [Range(1, 1000)].</summary>
        private static string Expected(Type? type, RangeAttribute? range)
        {
            Type? underlying = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
            string kind = underlying == typeof(int) || underlying == typeof(long) || underlying == typeof(ushort) ? "one whole number" : "one value";
            return range is null ? kind : $"{kind} from {range.Minimum} to {range.Maximum}";
        }

        private static string ExpectedOfMessage(string message) =>
            message.Contains("Int32", StringComparison.Ordinal) || message.Contains("Int64", StringComparison.Ordinal) ? "it must be a whole number"
            : message.Contains("String", StringComparison.Ordinal) ? "it must be a string"
            : "see the API description at /swagger";

        [GeneratedRegex("""Failed to bind parameter "(?<type>.+) (?<name>\w+)" from "(?<value>.*)"\.""")]
        private static partial Regex BindFailure();

        [LoggerMessage(EventId = 500, Level = LogLevel.Error, Message = "Admin request {Method} {Path} failed")]
        private static partial void LogUnexpected(ILogger logger, string method, string path, Exception exception);
    }
}
