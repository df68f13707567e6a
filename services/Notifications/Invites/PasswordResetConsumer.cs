using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Identity;
using Platform.Notifications.Domain;

namespace Platform.Notifications.Invites;

/// <summary>
/// Emails a password reset code (SMTP, the invites' settings). A code already sent is not sent again; an expired one
/// is dropped; without SMTP configured it is logged once and dropped.
/// </summary>
public sealed class PasswordResetConsumer(IDocumentSession session, IOptions<NotificationsOptions> options, TimeProvider time, ILogger<PasswordResetConsumer> logger)
    : IConsumer<PasswordResetRequested>
{
    public async Task Consume(ConsumeContext<PasswordResetRequested> context)
    {
        var reset = context.Message;
        var cancellationToken = context.CancellationToken;
        var marker = $"password-reset:{reset.RequestId:N}";
        if (await SentOnce.AlreadyAsync(session, marker, cancellationToken))
            return;
        var smtp = options.Value.Invites.Smtp;
        if (reset.ExpiresAt <= time.GetUtcNow())
            logger.LogInformation("Password reset {RequestId} expired before it could be sent", reset.RequestId);
        else if (string.IsNullOrEmpty(smtp.Host))
            logger.LogWarning("Password reset {RequestId} is not sent: Notifications:Invites:Smtp:Host is not configured", reset.RequestId);
        else
        {
            var minutes = Math.Max(1, (int)Math.Round((reset.ExpiresAt - reset.RequestedAt).TotalMinutes));
            var text = $"Your password reset code is {reset.Code}.\n\nIt works once, for {minutes} minutes. If you did not ask for it, ignore this email: your password stays as it is.\n";
            var html = $"<p>Your password reset code is <strong>{reset.Code}</strong>.</p><p>It works once, for {minutes} minutes. If you did not ask for it, ignore this email: your password stays as it is.</p>";
            await SmtpMail.SendAsync(smtp, reset.Email, "Your password reset code", text, html, cancellationToken);
        }

        await SentOnce.MarkAsync(session, marker, time, cancellationToken);
    }
}
