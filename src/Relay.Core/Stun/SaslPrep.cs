using System.Text;

namespace Relay.Core.Stun;

/// <summary>
/// The SASLprep profile (RFC 4013) as far as long-term STUN passwords need it: characters "commonly mapped to
/// nothing" are removed, non-ASCII spaces become U+0020, then NFKC. Prohibited-output and bidi checks are not
/// applied: a password is only ever hashed, never displayed. ASCII passwords (all that the Firezone and TURN REST
/// schemes produce) pass through unchanged without allocating.
/// </summary>
internal static class SaslPrep
{
    public static string Prepare(string password)
    {
        bool ascii = true;
        foreach (char c in password)
        {
            if (c > 0x7F)
            {
                ascii = false;
                break;
            }
        }

        if (ascii)
        {
            return password;
        }

        var builder = new StringBuilder(password.Length);
        foreach (char c in password)
        {
            if (IsMappedToNothing(c))
            {
                continue;
            }

            builder.Append(IsNonAsciiSpace(c) ? ' ' : c);
        }

        return builder.ToString().Normalize(NormalizationForm.FormKC);
    }

    // RFC 3454 table B.1.
    private static bool IsMappedToNothing(char c) =>
        c is '\u00AD' or '\u034F' or '\u1806' or '\u180B' or '\u180C' or '\u180D' or '\u200B' or '\u200C' or '\u200D'
            or '\u2060' or '\uFEFF' || (c >= '\uFE00' && c <= '\uFE0F');

    // RFC 3454 table C.1.2.
    private static bool IsNonAsciiSpace(char c) =>
        c is '\u00A0' or '\u1680' or '\u202F' or '\u205F' or '\u3000' || (c >= '\u2000' && c <= '\u200B');
}
