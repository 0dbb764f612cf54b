using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Relay.Web.Portal;

/// <summary>
/// One Phoenix Channels V1 JSON frame: <c>{"topic": …, "event": …, "payload": …, "ref": number|null}</c>.
/// <see cref="Payload"/> is a detached copy (safe to keep after the frame buffer is reused).
/// </summary>
public readonly record struct PhoenixMessage(string Topic, string Event, JsonElement Payload, ulong? Ref)
{
    /// <summary><c>payload.status</c> of a <c>phx_reply</c> ("ok", "error"), when present.</summary>
    public string? ReplyStatus => StringProperty(Payload, "status");

    /// <summary><c>payload.response.reason</c> of a <c>phx_reply</c>, when present.</summary>
    public string? ReplyReason =>
        Payload.ValueKind == JsonValueKind.Object && Payload.TryGetProperty("response", out JsonElement response) ? StringProperty(response, "reason") : null;

    /// <summary><c>payload.reason</c> (the <c>disconnect</c> event carries one).</summary>
    public string? PayloadReason => StringProperty(Payload, "reason");

    private static string? StringProperty(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}

/// <summary>Encodes the frames the relay sends and decodes what the portal sends (System.Text.Json, no reflection).</summary>
public static class PhoenixCodec
{
    public const string RelayTopic = "relay";
    public const string PhoenixTopic = "phoenix";

    /// <summary><c>{"topic":"relay","event":"phx_join","payload":{"stamp_secret":…},"ref":n}</c>.</summary>
    public static byte[] EncodeJoin(ulong reference, string stampSecret) =>
        Encode(RelayTopic, "phx_join", reference, writer => writer.WriteString("stamp_secret", stampSecret));

    /// <summary><c>{"topic":"phoenix","event":"heartbeat","payload":{},"ref":n}</c>.</summary>
    public static byte[] EncodeHeartbeat(ulong reference) => Encode(PhoenixTopic, "heartbeat", reference, static _ => { });

    /// <summary>A frame whose payload is an object written by <paramref name="writePayload"/>; a null ref is written as null.</summary>
    public static byte[] Encode(string topic, string @event, ulong? reference, Action<Utf8JsonWriter> writePayload)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("topic", topic);
            writer.WriteString("event", @event);
            writer.WritePropertyName("payload");
            writer.WriteStartObject();
            writePayload(writer);
            writer.WriteEndObject();
            if (reference is { } r)
            {
                writer.WriteNumber("ref", r);
            }
            else
            {
                writer.WriteNull("ref");
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Parses one text frame. <c>topic</c> and <c>event</c> must be strings; <c>payload</c> may be any JSON value
    /// (missing means null); <c>ref</c> may be a non-negative integer, a string of digits (some servers echo refs as
    /// strings), null or missing. Anything else is an error with a short description (never the frame itself).
    /// </summary>
    public static bool TryDecode(ReadOnlyMemory<byte> utf8, out PhoenixMessage message, out string? error)
    {
        message = default;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8);
        }
        catch (JsonException)
        {
            error = "not JSON";
            return false;
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = $"a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object";
                return false;
            }

            if (!root.TryGetProperty("topic", out JsonElement topic) || topic.ValueKind != JsonValueKind.String)
            {
                error = "no string 'topic'";
                return false;
            }

            if (!root.TryGetProperty("event", out JsonElement @event) || @event.ValueKind != JsonValueKind.String)
            {
                error = "no string 'event'";
                return false;
            }

            JsonElement payload = root.TryGetProperty("payload", out JsonElement p) ? p.Clone() : default;
            ulong? reference = null;
            if (root.TryGetProperty("ref", out JsonElement r))
            {
                switch (r.ValueKind)
                {
                    case JsonValueKind.Null:
                        break;
                    case JsonValueKind.Number when r.TryGetUInt64(out ulong number):
                        reference = number;
                        break;
                    case JsonValueKind.String when ulong.TryParse(r.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong number):
                        reference = number;
                        break;
                    default:
                        error = "'ref' is not a non-negative integer or null";
                        return false;
                }
            }

            message = new PhoenixMessage(topic.GetString()!, @event.GetString()!, payload, reference);
            error = null;
            return true;
        }
    }
}
