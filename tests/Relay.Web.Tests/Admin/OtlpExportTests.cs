using Relay.TestSupport;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests.Admin;

/// <summary>With --otlp-grpc-endpoint, metrics and control-plane traces reach an OTLP/gRPC collector.</summary>
[Collection(MetricsCollection.Name)]
public sealed class OtlpExportTests
{
    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"the collector did not receive {what}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Metrics_and_traces_are_exported_with_the_resource_attributes()
    {
        await using var collector = await OtlpCollectorStub.StartAsync();
        using var relay = new RelayFactory(new() { ["otlp-grpc-endpoint"] = $"127.0.0.1:{collector.Port}" });
        relay.HostSettings["OTEL_METRIC_EXPORT_INTERVAL"] = "250";
        relay.HostSettings["OTEL_BSP_SCHEDULE_DELAY"] = "250";
        relay.HostSettings["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=test";

        using var client = new UdpTurnClient(relay.ListenV4, "otlp");
        await client.AllocateAsync();

        await WaitForAsync(() => collector.MetricNames.Contains("relay.responses") && collector.MetricNames.Contains("relay.active_allocations"), "the relay metrics");
        await WaitForAsync(() => collector.SpanNames.Contains("turn allocate"), "an Allocate span");
        Assert.Equal("relay", collector.ResourceAttributes["service.name"]);
        Assert.Equal("firezone", collector.ResourceAttributes["service.namespace"]);
        Assert.Equal("test", collector.ResourceAttributes["deployment.environment"]);
    }

    [Fact]
    public async Task Otel_service_name_overrides_the_default()
    {
        await using var collector = await OtlpCollectorStub.StartAsync();
        using var relay = new RelayFactory(new() { ["otlp-grpc-endpoint"] = $"http://127.0.0.1:{collector.Port}" });
        relay.HostSettings["OTEL_METRIC_EXPORT_INTERVAL"] = "250";
        relay.HostSettings["OTEL_SERVICE_NAME"] = "relay-eu-1";
        relay.HostSettings["OTEL_RESOURCE_ATTRIBUTES"] = "service.namespace=acme";
        _ = relay.Services;
        await WaitForAsync(() => collector.ResourceAttributes.ContainsKey("service.name"), "a resource");
        Assert.Equal("relay-eu-1", collector.ResourceAttributes["service.name"]);
        Assert.Equal("acme", collector.ResourceAttributes["service.namespace"]);
    }
}
