//! The cabinet's pages, rendered on the server (`maud`: every value spliced in
//! is HTML-escaped). No inline script or style: the page's behaviour is
//! `cabinet.js`, its look `cabinet.css`, both served by the server.

use maud::{DOCTYPE, Markup, html};

use crate::domain::media::{MediaKind, MediaRecord};
use crate::domain::task::TaskRecord;
use crate::services::lifecycle::Usage;
use crate::storage::db::{ApiKeyInfo, Session};

/// The cabinet's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tab {
    Keys,
    Media,
    Tasks,
    Usage,
}

impl Tab {
    const ALL: [Tab; 4] = [Tab::Keys, Tab::Media, Tab::Tasks, Tab::Usage];

    fn path(self) -> &'static str {
        match self {
            Tab::Keys => "/cabinet/keys",
            Tab::Media => "/cabinet/media",
            Tab::Tasks => "/cabinet/tasks",
            Tab::Usage => "/cabinet/usage",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Keys => "API Access",
            Tab::Media => "Media",
            Tab::Tasks => "Tasks",
            Tab::Usage => "Usage",
        }
    }
}

/// A time in milliseconds as `YYYY-MM-DD HH:MM` UTC.
fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A byte count for people.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The frame of every page: the head, the tabs (when signed in), the page.
fn layout(title: &str, signed_in: Option<(&Session, Tab)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Runway cabinet" }
                link rel="stylesheet" href="/cabinet/static/cabinet.css";
                script src="/cabinet/static/cabinet.js" defer {}
            }
            body {
                header {
                    a.brand href="/cabinet" { "Runway cabinet" }
                    @if let Some((session, active)) = signed_in {
                        nav aria-label="Cabinet" {
                            @for tab in Tab::ALL {
                                a href=(tab.path()) aria-current=[(tab == active).then_some("page")] {
                                    (tab.label())
                                }
                            }
                        }
                        form.sign-out method="post" action="/cabinet/sign-out" {
                            input type="hidden" name="csrf" value=(session.csrf_token);
                            span.who { (session.account_name) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A form field carrying the session's token against cross-site requests.
fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf_token); }
}

/// A line that says what went wrong, when something did.
fn problem(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.problem role="alert" { (message) }
        }
    }
}

/// A page that says what went wrong.
pub(super) fn error(message: &str) -> Markup {
    layout(
        "Something went wrong",
        None,
        html! {
            h1 { "Something went wrong" }
            (problem(Some(message)))
            p { a href="/cabinet" { "Back to the cabinet" } }
        },
    )
}

/// The sign-in page.
pub(super) fn sign_in(account: &str, message: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            (problem(message))
            form.card method="post" action="/cabinet/sign-in" {
                label for="account" { "Account" }
                input #account name="account" type="text" autocomplete="username" required
                    value=(account) autofocus;
                label for="password" { "Password" }
                input #password name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
            p.hint { "The server's operator sets an account's password with "
                code { "runway-server accounts set-password NAME" } "." }
        },
    )
}

/// The keys of a new key's page: the key itself, shown once.
pub(super) struct MadeKey<'a> {
    pub(super) key: &'a str,
    pub(super) label: Option<&'a str>,
}

/// API Access: the account's keys, a form to make one, a key just made.
pub(super) fn keys(
    session: &Session,
    keys: &[ApiKeyInfo],
    made: Option<MadeKey<'_>>,
    message: Option<&str>,
) -> Markup {
    layout(
        "API Access",
        Some((session, Tab::Keys)),
        html! {
            h1 { "API Access" }
            (problem(message))
            @if let Some(made) = made {
                section.card.new-key aria-labelledby="new-key" {
                    h2 #new-key { "Your new API key" @if let Some(label) = made.label { " (" (label) ")" } }
                    p { "Copy it now: it is shown only this once." }
                    div.key-row {
                        code #made-key { (made.key) }
                        button type="button" data-copy-from="made-key" { "Copy" }
                    }
                }
            }
            form.card method="post" action="/cabinet/keys" {
                (csrf(session))
                label for="label" { "Label (optional)" }
                input #label name="label" type="text" maxlength="100" placeholder="laptop, CI, ...";
                button type="submit" { "Generate API Key" }
            }
            h2 { "Keys" }
            @if keys.is_empty() {
                p { "No keys yet." }
            } @else {
                table.keys {
                    thead { tr { th { "Label" } th { "Key" } th { "Created" } th { "Last used" } th { "" } } }
                    tbody {
                        @for key in keys {
                            tr {
                                td.label { (key.label.as_deref().unwrap_or("—")) }
                                td { code { (key.prefix) "…" } }
                                td { (when(key.created_ms)) }
                                td { (key.last_used_ms.map(when).unwrap_or_else(|| "never".to_owned())) }
                                td {
                                    @if key.revoked_ms.is_some() {
                                        span.revoked { "revoked" }
                                    } @else {
                                        a.button href={ "/cabinet/keys/" (key.id) "/revoke" } { "Revoke…" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The confirmation of a key's revocation.
pub(super) fn confirm_revoke(session: &Session, key: &ApiKeyInfo) -> Markup {
    layout(
        "Revoke a key",
        Some((session, Tab::Keys)),
        html! {
            h1 { "Revoke this key?" }
            p { "The key " code { (key.prefix) "…" }
                @if let Some(label) = &key.label { " (" (label) ")" }
                " will be refused by the API from now on. This cannot be undone." }
            form.card method="post" action={ "/cabinet/keys/" (key.id) "/revoke" } {
                (csrf(session))
                button.danger type="submit" { "Revoke the key" }
                a.button href="/cabinet/keys" { "Keep it" }
            }
        },
    )
}

/// A media's preview: the picture, a video's first frame with controls, or a
/// player.
fn preview(record: &MediaRecord, url: &str) -> Markup {
    html! {
        @match record.kind {
            MediaKind::Image => img src=(url) alt={ "image " (record.id) } loading="lazy";
            MediaKind::Video => video src=(url) controls preload="metadata" {}
            MediaKind::Audio => audio src=(url) controls preload="none" {}
        }
    }
}

/// Media: the account's media, newest first, a page at a time.
pub(super) fn media(
    session: &Session,
    items: &[(MediaRecord, String)],
    kind: Option<MediaKind>,
    next: Option<&str>,
    message: Option<&str>,
) -> Markup {
    let filter = |k: Option<MediaKind>| match k {
        Some(k) => format!("/cabinet/media?kind={}", k.folder()),
        None => "/cabinet/media".to_owned(),
    };
    layout(
        "Media",
        Some((session, Tab::Media)),
        html! {
            h1 { "Media" }
            (problem(message))
            nav.filters aria-label="Kind" {
                @for (label, k) in [("All", None), ("Images", Some(MediaKind::Image)), ("Videos", Some(MediaKind::Video)), ("Audio", Some(MediaKind::Audio))] {
                    a href=(filter(k)) aria-current=[(k == kind).then_some("page")] { (label) }
                }
            }
            @if items.is_empty() {
                p { "Nothing here yet." }
            }
            ul.gallery {
                @for (record, url) in items {
                    li.card {
                        (preview(record, url))
                        p.meta {
                            (record.kind.folder().trim_end_matches('s')) " · " (size(record.size_bytes))
                            @if let (Some(w), Some(h)) = (record.probed.width, record.probed.height) { " · " (w) "×" (h) }
                            @if let Some(seconds) = record.probed.duration_seconds { " · " (format!("{seconds:.1} s")) }
                        }
                        p.meta { (when(record.created_at.timestamp_millis())) }
                        div.actions {
                            a.button href=(url) download { "Download" }
                            a.button href={ "/cabinet/media/delete?url=" (urlencode(url)) } { "Delete…" }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                a.button href={ (filter(kind)) (if kind.is_some() { "&" } else { "?" }) "cursor=" (urlencode(next)) } { "Older media →" }
            }
        },
    )
}

/// `text` percent-encoded for a query string.
fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The confirmation of a media's deletion.
pub(super) fn confirm_delete(session: &Session, record: &MediaRecord, url: &str) -> Markup {
    layout(
        "Delete media",
        Some((session, Tab::Media)),
        html! {
            h1 { "Delete this media?" }
            div.card { (preview(record, url)) }
            p { "Its URL will answer 404 from now on. This cannot be undone." }
            form.card method="post" action="/cabinet/media/delete" {
                (csrf(session))
                input type="hidden" name="url" value=(url);
                button.danger type="submit" { "Delete it" }
                a.button href="/cabinet/media" { "Keep it" }
            }
        },
    )
}

/// Tasks: recent tasks, their status and progress updated live.
pub(super) fn tasks(session: &Session, tasks: &[TaskRecord], message: Option<&str>) -> Markup {
    layout(
        "Tasks",
        Some((session, Tab::Tasks)),
        html! {
            h1 { "Tasks" }
            (problem(message))
            @if tasks.is_empty() {
                p { "No tasks yet. Tasks made through the API show here, live." }
            }
            ul.tasks {
                @for task in tasks {
                    li.card.task data-task-id=(task.id) data-status=(task.status.as_str()) {
                        p { strong { (task.operation.as_str()) } " · " code { (task.id) } }
                        p.meta { (when(task.created_at.timestamp_millis())) }
                        p {
                            span.status { (task.status.as_str()) }
                            " "
                            progress max="1" value=(task.progress) aria-label="progress" { (format!("{:.0}%", task.progress * 100.0)) }
                            " " span.percent { (format!("{:.0}%", task.progress * 100.0)) }
                        }
                        p.output {
                            @if let Some(output) = &task.output {
                                a href=(output.media_url) { "Output" }
                            }
                            @if let Some(error) = &task.error {
                                span.problem { (error.code) ": " (error.message) }
                            }
                        }
                        @if !task.is_finished() {
                            form.cancel method="post" action={ "/cabinet/tasks/" (task.id) "/cancel" } {
                                (csrf(session))
                                button type="submit" { "Cancel" }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Usage: bytes and media kept, against the quota.
pub(super) fn usage(session: &Session, usage: &Usage) -> Markup {
    layout(
        "Usage",
        Some((session, Tab::Usage)),
        html! {
            h1 { "Usage" }
            dl.card.usage {
                dt { "Media kept" } dd { (usage.media_count) }
                dt { "Storage used" } dd { (size(usage.used_bytes)) }
                dt { "Quota" }
                dd {
                    @if let Some(quota) = usage.quota_bytes {
                        (size(quota)) " "
                        progress max=(quota) value=(usage.used_bytes.min(quota)) aria-label="share of the quota used" {}
                    } @else {
                        "none"
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(1_500), "1.5 KB");
        assert_eq!(size(2_000_000), "2.0 MB");
    }

    #[test]
    fn what_users_wrote_is_escaped() {
        let page = sign_in(
            "<script>alert(1)</script>",
            Some("a \"quoted\" <b>message</b>"),
        );
        let html = page.into_string();
        assert!(!html.contains("<script>alert(1)"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;b&gt;message&lt;/b&gt;"));
        assert_eq!(
            html.matches("<script").count(),
            1,
            "only the page's own script"
        );
    }
}
