using System.Net.Http.Json;
using MailKit.Net.Smtp;
using MailKit.Security;
using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using MimeKit;
using Platform.Contracts.Identity;
using Platform.Notifications.Domain;

namespace Platform.Notifications.Invites;

/// <summary>Sends an invite by SMS; behind an interface so providers can be swapped.</summary>
public interface ISmsSender
{
    Task SendAsync(string phone, string text, CancellationToken cancellationToken);
}

/// <summary>POSTs <c>{to, text}</c> to the configured SMS gateway.</summary>
public sealed class HttpSmsSender(HttpClient http, IOptions<NotificationsOptions> options) : ISmsSender
{
    public async Task SendAsync(string phone, string text, CancellationToken cancellationToken)
    {
        var sms = options.Value.Invites.Sms;
        if (string.IsNullOrEmpty(sms.Url))
            throw new InvalidOperationException("Notifications:Invites:Sms:Url is not set: SMS invites cannot be sent.");
        using var request = new HttpRequestMessage(HttpMethod.Post, sms.Url) { Content = JsonContent.Create(new { to = phone, text }) };
        if (!string.IsNullOrEmpty(sms.Authorization))
            request.Headers.TryAddWithoutValidation("Authorization", sms.Authorization);
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
    }
}

/// <summary>Sends one email over SMTP (MailKit) with the invites' SMTP settings.</summary>
public static class SmtpMail
{
    public static async Task SendAsync(SmtpOptions smtp, string to, string subject, string text, string html, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(smtp.Host))
            throw new InvalidOperationException("Notifications:Invites:Smtp:Host is not set: emails cannot be sent.");
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(smtp.From));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.Body = new BodyBuilder { TextBody = text, HtmlBody = html }.ToMessageBody();

        using var client = new SmtpClient { Timeout = 15_000 };
        var security = smtp.Security switch
        {
            "none" => SecureSocketOptions.None,
            "starttls" => SecureSocketOptions.StartTls,
            "tls" => SecureSocketOptions.SslOnConnect,
            _ => SecureSocketOptions.Auto,
        };
        await client.ConnectAsync(smtp.Host, smtp.Port, security, cancellationToken);
        if (!string.IsNullOrEmpty(smtp.Username))
            await client.AuthenticateAsync(smtp.Username, smtp.Password ?? "", cancellationToken);
        await client.SendAsync(message, cancellationToken);
        await client.DisconnectAsync(quit: true, cancellationToken);
    }
}

/// <summary>
/// Delivers an invite by email (SMTP, MailKit) or SMS, with the link the invitee registers through. A failure is retried
/// by the bus; an invite already sent is not sent again (a crash right after sending can repeat it once).
/// </summary>
public sealed class InviteConsumer(IDocumentSession session, ISmsSender sms, IOptions<NotificationsOptions> options, TimeProvider time, ILogger<InviteConsumer> logger)
    : IConsumer<InviteCreated>
{
    public async Task Consume(ConsumeContext<InviteCreated> context)
    {
        var invite = context.Message;
        var cancellationToken = context.CancellationToken;
        var marker = $"invite:{invite.InviteId:N}";
        if (await SentOnce.AlreadyAsync(session, marker, cancellationToken))
            return;
        if (invite.ExpiresAt <= time.GetUtcNow())
        {
            logger.LogInformation("Invite {InviteId} expired before it could be sent", invite.InviteId);
            return;
        }

        var settings = options.Value.Invites;
        var link = $"{settings.LinkBaseUrl}{(settings.LinkBaseUrl.Contains('?') ? '&' : '?')}invite={Uri.EscapeDataString(invite.Token)}";
        var inviter = (await session.LoadAsync<UserName>(invite.InvitedBy, cancellationToken))?.DisplayName ?? "Someone";
        var channelConfigured = invite.Email is not null ? !string.IsNullOrEmpty(settings.Smtp.Host) : !string.IsNullOrEmpty(settings.Sms.Url);
        if (!channelConfigured)
        {
            // Nothing could ever send it: say so once instead of retrying into the error queue.
            logger.LogWarning("Invite {InviteId} is not sent: {Setting} is not configured", invite.InviteId,
                invite.Email is not null ? "Notifications:Invites:Smtp:Host" : "Notifications:Invites:Sms:Url");
            NotificationMetrics.InviteSent("unconfigured");
        }
        else if (invite.Email is { } email)
        {
            await EmailAsync(settings.Smtp, email, inviter, link, invite.ExpiresAt, cancellationToken);
            NotificationMetrics.InviteSent("email");
        }
        else if (invite.Phone is { } phone)
        {
            await sms.SendAsync(phone, $"{inviter} invites you to chat: {link}", cancellationToken);
            NotificationMetrics.InviteSent("sms");
        }

        await SentOnce.MarkAsync(session, marker, time, cancellationToken);
    }

    private static Task EmailAsync(SmtpOptions smtp, string to, string inviter, string link, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        var text = $"{inviter} invites you to chat.\n\nJoin here: {link}\n\nThe invite works once and expires on {expiresAt:yyyy-MM-dd HH:mm} UTC.\n";
        var html = $"<p>{System.Net.WebUtility.HtmlEncode(inviter)} invites you to chat.</p><p><a href=\"{System.Net.WebUtility.HtmlEncode(link)}\">Join the conversation</a></p>"
            + $"<p>The invite works once and expires on {expiresAt:yyyy-MM-dd HH:mm} UTC.</p>";
        return SmtpMail.SendAsync(smtp, to, $"{inviter} invites you to chat", text, html, cancellationToken);
    }
}
