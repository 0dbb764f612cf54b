using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Relay.Web.Tests.Support;

/// <summary>
/// A stand-in OTLP/gRPC collector: an HTTP/2 (h2c) endpoint on loopback that accepts the Export calls of the
/// metrics and trace services, decodes just enough protobuf to list what arrived (metric names, span names,
/// resource attributes) and answers an empty response with grpc-status 0.
/// </summary>
public sealed class OtlpCollectorStub : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpCollectorStub(WebApplication app) => _app = app;

    public ConcurrentBag<string> MetricNames { get; } = new();

    public ConcurrentBag<string> SpanNames { get; } = new();

    public ConcurrentDictionary<string, string> ResourceAttributes { get; } = new();

    public int Port { get; private set; }

    public static async Task<OtlpCollectorStub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        var stub = new OtlpCollectorStub(app);
        app.MapPost("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", context => stub.ExportAsync(context, metrics: true));
        app.MapPost("/opentelemetry.proto.collector.trace.v1.TraceService/Export", context => stub.ExportAsync(context, metrics: false));
        await app.StartAsync();
        stub.Port = new Uri(app.Urls.First()).Port;
        return stub;
    }

    private async Task ExportAsync(HttpContext context, bool metrics)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        byte[] frame = body.ToArray();
        if (frame.Length >= 5 && frame[0] == 0)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(1));
            Decode(frame.AsMemory(5, Math.Min(length, frame.Length - 5)), metrics);
        }

        context.Response.ContentType = "application/grpc";
        await context.Response.Body.WriteAsync(new byte[5]); // an empty Export*ServiceResponse
        context.Response.AppendTrailer("grpc-status", "0");
    }

    // ExportMetricsServiceRequest / ExportTraceServiceRequest: 1 = ResourceMetrics|ResourceSpans { 1 = Resource, 2 = Scope* }.
    private void Decode(ReadOnlyMemory<byte> request, bool metrics)
    {
        foreach (var (field, resourceData) in Fields(request))
        {
            if (field != 1)
            {
                continue;
            }

            foreach (var (inner, value) in Fields(resourceData))
            {
                if (inner == 1)
                {
                    ReadResource(value);
                }
                else if (inner == 2)
                {
                    // ScopeMetrics|ScopeSpans: 2 = Metric|Span; a metric's name is field 1, a span's field 5.
                    foreach (var (scopeField, item) in Fields(value))
                    {
                        if (scopeField != 2)
                        {
                            continue;
                        }

                        foreach (var (itemField, itemValue) in Fields(item))
                        {
                            if (metrics && itemField == 1)
                            {
                                MetricNames.Add(Encoding.UTF8.GetString(itemValue.Span));
                            }
                            else if (!metrics && itemField == 5)
                            {
                                SpanNames.Add(Encoding.UTF8.GetString(itemValue.Span));
                            }
                        }
                    }
                }
            }
        }
    }

    // Resource: 1 = KeyValue { 1 = key, 2 = AnyValue { 1 = string_value } }.
    private void ReadResource(ReadOnlyMemory<byte> resource)
    {
        foreach (var (field, keyValue) in Fields(resource))
        {
            if (field != 1)
            {
                continue;
            }

            string? key = null, text = null;
            foreach (var (kvField, value) in Fields(keyValue))
            {
                if (kvField == 1)
                {
                    key = Encoding.UTF8.GetString(value.Span);
                }
                else if (kvField == 2)
                {
                    foreach (var (anyField, any) in Fields(value))
                    {
                        if (anyField == 1)
                        {
                            text = Encoding.UTF8.GetString(any.Span);
                        }
                    }
                }
            }

            if (key is not null && text is not null)
            {
                ResourceAttributes[key] = text;
            }
        }
    }

    /// <summary>The length-delimited fields of a protobuf message (other wire types are skipped).</summary>
    private static List<(int Field, ReadOnlyMemory<byte> Value)> Fields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<(int, ReadOnlyMemory<byte>)>();
        var span = message.Span;
        int at = 0;
        while (at < span.Length)
        {
            ulong tag = Varint(span, ref at);
            int wire = (int)(tag & 7);
            switch (wire)
            {
                case 0:
                    Varint(span, ref at);
                    break;
                case 1:
                    at += 8;
                    break;
                case 5:
                    at += 4;
                    break;
                case 2:
                    int length = (int)Varint(span, ref at);
                    fields.Add(((int)(tag >> 3), message.Slice(at, length)));
                    at += length;
                    break;
                default:
                    return fields; // groups are not used by OTLP
            }
        }

        return fields;
    }

    private static ulong Varint(ReadOnlySpan<byte> span, ref int at)
    {
        ulong value = 0;
        for (int shift = 0; at < span.Length; shift += 7)
        {
            byte b = span[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        return value;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
