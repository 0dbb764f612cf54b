namespace Relay.Web.Tests.Support;

/// <summary>
/// Tests that read metric values run alone: every host in this process creates a meter named "relay", and
/// OpenTelemetry merges same-named instruments across them, so a concurrently running host would blur the values.
/// (In production there is one host per process.)
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "metrics (runs alone)";
}
