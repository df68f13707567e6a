using System.Net;
using AngleSharp.Html.Parser;
using Microsoft.AspNetCore.Mvc.Testing;
using Platform.Identity.Domain;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>The return URL of the login page: local paths only, whatever a browser or a second decoding makes of it.</summary>
public sealed class ReturnUrlTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    /// <summary>Each of these, as the value the login form receives, must never become a redirect.</summary>
    public static readonly string[] Tricks =
    [
        // Another host outright, with or without a scheme.
        "https://evil.example/", "HTTPS://evil.example", "http:evil.example", "//evil.example", "///evil.example", "////evil.example",
        "evil.example", "@evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>",
        // Backslashes, which browsers read as slashes.
        "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/\\/evil.example", "/a\\..\\..\\/evil.example",
        // Tabs, newlines and other controls, which browsers drop (the case: returnUrl=/%09/evil.example).
        "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\0/evil.example", "/\u007f/evil.example",
        "\t//evil.example", " //evil.example", "/ /evil.example", "//\tevil.example",
        // Encoded slashes, backslashes and controls, once or twice, for a server that decodes again.
        "/%09/evil.example", "/%2F/evil.example", "/%2f%2fevil.example", "/%5C/evil.example", "/%5cevil.example",
        "/%252F%252Fevil.example", "/%25252F/evil.example", "/%0a/evil.example", "/%E3%80%80/evil.example",
        "/%EF%BC%8Fevil.example",
        // Dot segments and doubled slashes further in the path.
        "/.//evil.example", "/..//evil.example", "/a//evil.example",
        // Slash lookalikes and non-ASCII blanks.
        "/\uFF0Fevil.example", "/\u2215evil.example", "/\u2044evil.example", "/\u3000/evil.example", "/\u00a0/evil.example",
        // Broken escapes, nothing, and too much.
        "/%", "/%zz/evil.example", "", "/" + new string('a', ReturnUrls.MaxLength),
    ];

    public static TheoryData<string> RedirectTricks => new(Tricks);

    public static TheoryData<string> LocalPaths => new()
    {
        "/",
        "/connect/authorize?client_id=platform-web&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcallback&response_type=code&state=x",
        "/account/profile#top",
        "/a/b?next=//x",
        "/caf%C3%A9",
    };

    private readonly HttpClient _browser = identity.Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    [Theory]
    [MemberData(nameof(RedirectTricks))]
    public void IsLocal_ForARedirectTrick_IsFalse(string url) => Assert.False(ReturnUrls.IsLocal(url), url);

    [Theory]
    [MemberData(nameof(LocalPaths))]
    public void IsLocal_ForAPathOnThisHost_IsTrue(string url) => Assert.True(ReturnUrls.IsLocal(url), url);

    [Fact]
    public async Task LoginPage_WithTheEncodedTabTrickInTheQuery_DropsTheReturnUrl()
    {
        var form = await LoginFormAsync("/account/login?returnUrl=/%09/evil.example");

        Assert.Equal("", form["returnUrl"]);
    }

    [Fact]
    public async Task SignIn_WithAnyRedirectTrickAsReturnUrl_NeverRedirectsOffSite()
    {
        var account = await NewApiClient().RegisterAsync();
        foreach (var trick in Tricks)
        {
            var form = await LoginFormAsync("/account/login");
            form["returnUrl"] = trick;
            form["username"] = account.Username;
            form["password"] = account.Password;

            var response = await _browser.PostAsync("/account/login", new FormUrlEncodedContent(form));

            var body = await response.Content.ReadAsStringAsync();
            // Signed in without a redirect; a NUL in a form field is refused as a bad form (400) before anything else.
            var expected = trick.Contains('\0') ? HttpStatusCode.BadRequest : HttpStatusCode.OK;
            Assert.True(response.StatusCode == expected, $"{Uri.EscapeDataString(trick)}: {(int)response.StatusCode} {response.Headers.Location} {body}");
            Assert.Null(response.Headers.Location);
        }
    }

    [Fact]
    public async Task SignIn_WithALocalReturnUrl_RedirectsThere()
    {
        var account = await NewApiClient().RegisterAsync();
        var form = await LoginFormAsync("/account/login?returnUrl=" + Uri.EscapeDataString("/connect/authorize?client_id=x&state=%2F%2F"));
        form["username"] = account.Username;
        form["password"] = account.Password;

        var response = await _browser.PostAsync("/account/login", new FormUrlEncodedContent(form));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/connect/authorize?client_id=x&state=%2F%2F", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task TokenEndpoint_WithANulInAField_Returns400()
    {
        var response = await NewApiClient().PasswordGrantAsync("someone\0", "pass\0word");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    private HttpClient NewApiClient() => identity.Factory.CreateClient();

    private async Task<Dictionary<string, string>> LoginFormAsync(string url)
    {
        var page = await _browser.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var document = new HtmlParser().ParseDocument(await page.Content.ReadAsStringAsync());
        return document.QuerySelectorAll("form input")
            .Where(input => input.GetAttribute("name") is not null)
            .ToDictionary(input => input.GetAttribute("name")!, input => input.GetAttribute("value") ?? "");
    }
}
