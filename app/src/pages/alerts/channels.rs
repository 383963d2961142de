//! Where alerts go: the channels (webhook, email, Slack) with the form
//! that adds one, and the tenant's webhook signing secret.

use super::Alerts;
use crate::api::alerts::{ChannelInput, ChannelKind, SigningSecretState};
use crate::api::routes;
use crate::api::FieldError;
use crate::components::confirm::confirmed;
use crate::components::copy::CopyButton;
use crate::components::load::{alert, field_error, field_errors, other_errors, show};
use crate::components::time;
use leptos::prelude::*;

fn kind_label(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Webhook => "Webhook",
        ChannelKind::Email => "Email",
        ChannelKind::Slack => "Slack",
    }
}

/// The target field's placeholder and hint for a kind of channel.
fn target_hint(kind: ChannelKind) -> (&'static str, &'static str) {
    match kind {
        ChannelKind::Webhook => (
            "https://example.com/hooks/trellis",
            "An http(s) URL. Each alert arrives as JSON in a POST signed with the tenant's signing secret.",
        ),
        ChannelKind::Email => (
            "ops@example.com, oncall@example.com",
            "One or more email addresses, separated by commas.",
        ),
        ChannelKind::Slack => (
            "https://hooks.slack.com/services/…",
            "The URL of a Slack incoming webhook. Each alert arrives as a message.",
        ),
    }
}

const CHANNEL_FIELDS: &[&str] = &["name", "kind", "target"];

#[component]
pub(super) fn Channels(data: Alerts) -> impl IntoView {
    let (name, kind, target) = (
        RwSignal::new(String::new()),
        RwSignal::new(ChannelKind::Webhook),
        RwSignal::new(String::new()),
    );
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let error = RwSignal::new(None::<String>);
    // What "Send a test" did: `Ok` once the delivery is made.
    let tested = RwSignal::new(None::<Result<(), String>>);

    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = ChannelInput {
            name: name.get_untracked(),
            kind: kind.get_untracked(),
            target: target.get_untracked(),
        };
        let tenant = data.tenant.get_value();
        leptos::task::spawn_local(async move {
            match routes::create_alert_channel(&tenant, &input).await {
                Ok(channel) => {
                    errors.set(Vec::new());
                    name.set(String::new());
                    target.set(String::new());
                    if channel.signing_secret.is_some() {
                        data.shown.set(channel.signing_secret);
                        data.load_secret();
                    }
                    data.load_channels();
                }
                Err(e) => errors.set(field_errors(e)),
            }
        });
    };
    let test = move |id: String| {
        let tenant = data.tenant.get_value();
        tested.set(None);
        leptos::task::spawn_local(async move {
            match routes::test_alert_channel(&tenant, &id).await {
                Ok(_) => {
                    tested.set(Some(Ok(())));
                    data.log.reload();
                }
                Err(e) => tested.set(Some(Err(e.message()))),
            }
        });
    };
    let remove = move |id: String| {
        let tenant = data.tenant.get_value();
        leptos::task::spawn_local(async move {
            match routes::delete_alert_channel(&tenant, &id).await {
                Ok(()) => {
                    error.set(None);
                    data.load_channels();
                    data.load_rules();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };

    view! {
        <section class="alerts-section" aria-labelledby="alerts-channels" data-testid="alert-channels">
            <h2 id="alerts-channels">"Channels"</h2>
            <SigningSecretLine data/>
            {move || error.get().map(alert)}
            <div role="status" data-testid="channel-test-status">
                {move || tested.get().map(|r| match r {
                    Ok(()) => view! { <p class="ok" data-testid="test-sent">"Test sent — see the delivery log"</p> }.into_any(),
                    Err(e) => view! { <p class="error" data-testid="test-error">{e}</p> }.into_any(),
                })}
            </div>
            {show(data.channels, move |list| if list.is_empty() {
                view! { <p class="muted" data-testid="no-channels">"No channels yet."</p> }.into_any()
            } else {
                view! {
                    <table class="list" data-testid="channel-list">
                        <thead><tr><th>"Name"</th><th>"Kind"</th><th>"Target"</th><th>"Actions"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|c| {
                                let (to_test, to_delete) = (c.id.clone(), c.id.clone());
                                view! {
                                    <tr data-testid="channel-row">
                                        <td>{c.name.clone()}</td>
                                        <td>{kind_label(c.kind)}</td>
                                        <td><code>{c.target.clone()}</code></td>
                                        <td>
                                            <div class="toolbar">
                                                <button type="button" class="link" data-testid="channel-test"
                                                    on:click=move |_| test(to_test.clone())>"Send a test"</button>
                                                {confirmed("Delete", "Delete this channel and the rules that send to it?", "channel-delete",
                                                    move || remove(to_delete.clone()))}
                                            </div>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            })}
            <form class="panel" on:submit=add data-testid="channel-form">
                <h3>"Add a channel"</h3>
                <label class="field">
                    <span>"Name"</span>
                    <input type="text" data-testid="channel-name" autocomplete="off" placeholder="Ops on call"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    {field_error(errors, "name")}
                </label>
                <label class="field">
                    <span>"Kind"</span>
                    <select data-testid="channel-kind"
                        on:change=move |ev| kind.set(event_target_value(&ev).parse().unwrap_or(ChannelKind::Webhook))>
                        {ChannelKind::ALL.iter().copied().map(|k| view! {
                            <option value=k.as_str() selected=move || kind.get() == k>{kind_label(k)}</option>
                        }).collect_view()}
                    </select>
                    {field_error(errors, "kind")}
                </label>
                <label class="field">
                    <span>"Target"</span>
                    <input type="text" data-testid="channel-target" autocomplete="off"
                        placeholder=move || target_hint(kind.get()).0
                        prop:value=move || target.get() on:input=move |ev| target.set(event_target_value(&ev))/>
                    <span class="muted">{move || target_hint(kind.get()).1}</span>
                    {field_error(errors, "target")}
                </label>
                {other_errors(errors, CHANNEL_FIELDS, "channel-error")}
                <div class="toolbar">
                    <button type="submit" data-testid="channel-add">"Add channel"</button>
                </div>
            </form>
        </section>
    }
}

/// When the tenant's signing secret was made, a button for a new one, and
/// a secret just made (shown once).
#[component]
fn SigningSecretLine(data: Alerts) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let rotate = move || {
        let tenant = data.tenant.get_value();
        leptos::task::spawn_local(async move {
            match routes::rotate_signing_secret(&tenant).await {
                Ok(s) => {
                    error.set(None);
                    data.shown.set(Some(s.secret));
                    data.load_secret();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let state = move || match data.secret.get() {
        None => "…".to_owned(),
        Some(Err(e)) => e.message(),
        Some(Ok(SigningSecretState {
            created_at: Some(at),
        })) => format!("created {} UTC", time::minutes(&at)),
        Some(Ok(_)) => "none yet; the first webhook channel makes one".to_owned(),
    };
    view! {
        <div class="toolbar" data-testid="signing-secret-state">
            <span><strong>"Signing secret: "</strong>{state}</span>
            {confirmed("New secret",
                "Make a new signing secret? Webhooks are signed with it at once; receivers that check the old one will refuse them.",
                "secret-rotate", rotate)}
        </div>
        <p class="muted">
            "Each webhook POST carries " <code>"X-Trellis-Signature-256: sha256=<hex>"</code>
            ", the HMAC-SHA256 of the raw body with this secret (check it before parsing the body), "
            <code>"X-Trellis-Delivery"</code> " (the delivery's id) and " <code>"X-Trellis-Event"</code> "."
        </p>
        {move || error.get().map(alert)}
        {move || data.shown.get().map(|secret| view! {
            <div class="notice" data-testid="signing-secret-box">
                <p>"The tenant's signing secret. Copy it now: it will not be shown again."</p>
                <code data-testid="signing-secret">{secret.clone()}</code> " "
                <CopyButton text=secret testid="copy-signing-secret"/> " "
                <button type="button" class="link" data-testid="signing-secret-hide" on:click=move |_| data.shown.set(None)>"Hide"</button>
            </div>
        })}
    }
}
