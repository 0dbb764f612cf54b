using System.Globalization;

namespace Relay.Core.Net;

/// <summary>An address block in CIDR notation ("10.0.0.0/8", "2001:db8::/32"); a bare address is a /32 or /128.</summary>
public readonly record struct IpNetwork
{
    private IpNetwork(IpAddr prefix, int length)
    {
        Prefix = prefix;
        Length = length;
    }

    public IpAddr Prefix { get; }

    public int Length { get; }

    /// <summary>Parses CIDR text, or says in one phrase what is wrong (host bits set, prefix too long, not an address).</summary>
    public static bool TryParse(string text, out IpNetwork network, out string? error)
    {
        network = default;
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string addressText = slash < 0 ? text : text[..slash];
        if (!IpAddr.TryParse(addressText, out IpAddr address))
        {
            error = $"'{text}' is not an address or CIDR block (e.g. 10.0.0.0/8, 2001:db8::/32)";
            return false;
        }

        int max = address.IsV4 ? 32 : 128;
        int length = max;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > max))
        {
            error = $"'{text}' has a prefix length outside 0-{max}";
            return false;
        }

        var candidate = new IpNetwork(address, length);
        IpAddr masked = candidate.Mask(address);
        if (masked != address)
        {
            error = $"'{text}' has bits set after the prefix: did you mean {masked}/{length}?";
            return false;
        }

        network = candidate;
        error = null;
        return true;
    }

    public static IpNetwork Parse(string text) =>
        TryParse(text, out IpNetwork network, out string? error) ? network : throw new FormatException(error);

    /// <summary>Whether <paramref name="address"/> (of the same family) lies in the block.</summary>
    public bool Contains(IpAddr address) => address.Family == Prefix.Family && Mask(address) == Prefix;

    private IpAddr Mask(IpAddr address)
    {
        if (address.IsV4)
        {
            uint mask = Length == 0 ? 0 : uint.MaxValue << (32 - Length);
            return IpAddr.FromV4(address.V4Value & mask);
        }

        ulong hiMask = Length switch { 0 => 0, >= 64 => ulong.MaxValue, _ => ulong.MaxValue << (64 - Length) };
        ulong loMask = Length switch { <= 64 => 0, 128 => ulong.MaxValue, _ => ulong.MaxValue << (128 - Length) };
        return IpAddr.FromV6(address.High & hiMask, address.Low & loMask);
    }

    public override string ToString() => $"{Prefix}/{Length}";
}
