using System.Net;
using System.Text;

namespace Platform.Media.Tests;

/// <summary><c>GET /internal/v1/export</c> and <c>/internal/v1/export/files/{id}</c>: the caller's own files only.</summary>
public sealed class UserExportTests(MediaHost host) : IClassFixture<MediaHost>
{
    [Fact]
    public async Task Export_ListsAndServesOnlyTheCallersOwnFiles()
    {
        var ida = host.Client();
        var jon = host.Client();
        var bytes = Encoding.UTF8.GetBytes($"ida's notes {Guid.NewGuid():N}\n");
        var id = (await ida.UploadOkAsync(bytes, "ida-notes.txt")).GetProperty("id").GetGuid();
        await jon.UploadOkAsync(Encoding.UTF8.GetBytes($"jon's notes {Guid.NewGuid():N}\n"), "jon-notes.txt");

        var list = await MediaClient.Json(await ida.Http.GetAsync("/internal/v1/export"), 200);
        var item = Assert.Single(list.GetProperty("items").EnumerateArray());
        Assert.Equal(id, item.GetProperty("id").GetGuid());
        Assert.Equal("ida-notes.txt", item.GetProperty("fileName").GetString());
        var file = await ida.Http.GetAsync($"/internal/v1/export/files/{id}");
        Assert.Equal(HttpStatusCode.OK, file.StatusCode);
        Assert.Equal(bytes, await file.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await jon.Http.GetAsync($"/internal/v1/export/files/{id}")).StatusCode);
    }
}
