using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Identity;
using Platform.Notifications.Domain;

namespace Platform.Notifications.Invites;

/// <summary>
/// Sends an email or phone verification code: by email over SMTP, by SMS through <see cref="ISmsSender"/> (the invites'
/// settings). A code already sent is not sent again; an expired one is dropped; without the channel configured it is
/// logged once and dropped. A failure is retried by the bus.
/// </summary>
public sealed class VerificationCodeConsumer(
    IDocumentSession session, ISmsSender sms, IOptions<NotificationsOptions> options, TimeProvider time, ILogger<VerificationCodeConsumer> logger)
    : IConsumer<VerificationCodeRequested>
{
    public async Task Consume(ConsumeContext<VerificationCodeRequested> context)
    {
        var request = context.Message;
        var cancellationToken = context.CancellationToken;
        var marker = $"verification:{request.RequestId:N}";
        if (await SentOnce.AlreadyAsync(session, marker, cancellationToken))
            return;
        var settings = options.Value.Invites;
        var byEmail = request.Channel == "email";
        var minutes = Math.Max(1, (int)Math.Round((request.ExpiresAt - request.RequestedAt).TotalMinutes));
        if (request.ExpiresAt <= time.GetUtcNow())
            logger.LogInformation("Verification code {RequestId} expired before it could be sent", request.RequestId);
        else if (byEmail ? string.IsNullOrEmpty(settings.Smtp.Host) : string.IsNullOrEmpty(settings.Sms.Url))
            logger.LogWarning("Verification code {RequestId} is not sent: {Setting} is not configured", request.RequestId,
                byEmail ? "Notifications:Invites:Smtp:Host" : "Notifications:Invites:Sms:Url");
        else if (byEmail)
        {
            var text = $"Your verification code is {request.Code}.\n\nEnter it in the app within {minutes} minutes to confirm this email address. If you did not ask for it, ignore this email.\n";
            var html = $"<p>Your verification code is <strong>{request.Code}</strong>.</p><p>Enter it in the app within {minutes} minutes to confirm this email address. If you did not ask for it, ignore this email.</p>";
            await SmtpMail.SendAsync(settings.Smtp, request.Address, "Your verification code", text, html, cancellationToken);
        }
        else
            await sms.SendAsync(request.Address, $"Your verification code is {request.Code}. It expires in {minutes} minutes.", cancellationToken);

        await SentOnce.MarkAsync(session, marker, time, cancellationToken);
    }
}
