namespace Platform.Media.Processing;

/// <summary>The BlurHash encoding (a compact placeholder: average colour plus a few cosine components).</summary>
public static class BlurHash
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

    /// <param name="rgba">Unpremultiplied RGBA pixels, row by row.</param>
    public static string Encode(ReadOnlySpan<byte> rgba, int width, int height, int componentsX = 4, int componentsY = 3)
    {
        var factors = new (double R, double G, double B)[componentsX * componentsY];
        for (var j = 0; j < componentsY; j++)
            for (var i = 0; i < componentsX; i++)
            {
                double r = 0, g = 0, b = 0;
                var normalisation = i == 0 && j == 0 ? 1.0 : 2.0;
                for (var y = 0; y < height; y++)
                {
                    var cosY = Math.Cos(Math.PI * j * y / height);
                    for (var x = 0; x < width; x++)
                    {
                        var basis = normalisation * Math.Cos(Math.PI * i * x / width) * cosY;
                        var p = (y * width + x) * 4;
                        r += basis * ToLinear(rgba[p]);
                        g += basis * ToLinear(rgba[p + 1]);
                        b += basis * ToLinear(rgba[p + 2]);
                    }
                }
                var scale = 1.0 / (width * height);
                factors[j * componentsX + i] = (r * scale, g * scale, b * scale);
            }

        var hash = new System.Text.StringBuilder();
        Append(hash, (componentsX - 1) + (componentsY - 1) * 9, 1);
        double maximum;
        if (factors.Length > 1)
        {
            var actualMaximum = factors.Skip(1).Max(f => Math.Max(Math.Abs(f.R), Math.Max(Math.Abs(f.G), Math.Abs(f.B))));
            var quantised = (int)Math.Max(0, Math.Min(82, Math.Floor(actualMaximum * 166 - 0.5)));
            maximum = (quantised + 1) / 166.0;
            Append(hash, quantised, 1);
        }
        else
        {
            maximum = 1;
            Append(hash, 0, 1);
        }

        var dc = factors[0];
        Append(hash, (ToSrgb(dc.R) << 16) + (ToSrgb(dc.G) << 8) + ToSrgb(dc.B), 4);
        foreach (var ac in factors.Skip(1))
            Append(hash, Quantise(ac.R, maximum) * 19 * 19 + Quantise(ac.G, maximum) * 19 + Quantise(ac.B, maximum), 2);
        return hash.ToString();
    }

    private static int Quantise(double value, double maximum) =>
        (int)Math.Max(0, Math.Min(18, Math.Floor(Math.CopySign(Math.Pow(Math.Abs(value / maximum), 0.5), value) * 9 + 9.5)));

    private static double ToLinear(byte value)
    {
        var v = value / 255.0;
        return v <= 0.04045 ? v / 12.92 : Math.Pow((v + 0.055) / 1.055, 2.4);
    }

    private static int ToSrgb(double value)
    {
        var v = Math.Clamp(value, 0, 1);
        return v <= 0.0031308 ? (int)(v * 12.92 * 255 + 0.5) : (int)((1.055 * Math.Pow(v, 1 / 2.4) - 0.055) * 255 + 0.5);
    }

    private static void Append(System.Text.StringBuilder hash, int value, int length)
    {
        Span<char> digits = stackalloc char[length];
        for (var i = length - 1; i >= 0; i--)
        {
            digits[i] = Alphabet[value % 83];
            value /= 83;
        }
        hash.Append(digits);
    }
}
