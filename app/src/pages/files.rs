//! The tenant's data folder: the files `ingest.file` reads by path. Every
//! member lists and downloads them; editors upload (with a progress bar)
//! and delete.

use crate::api::files::DataFile;
use crate::api::routes;
use crate::components::bytes::human as size;
use crate::components::load::{alert_with, fetch, loaded, show};
use crate::components::time;
use crate::session::{Session, WithTenant};
use crate::types::Role;
use leptos::prelude::*;

#[component]
pub fn FilesPage() -> impl IntoView {
    view! {
        <h1>"Files"</h1>
        <p class="muted">
            "The tenant's data folder: an Ingest file step reads a file here by its path (such as "
            <code>"samples/orders.csv"</code>")."
        </p>
        <WithTenant children=|tenant| view! { <FileList tenant/> }/>
    }
}

/// `folder/name`, without doubled or leading slashes.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn joined(folder: &str, name: &str) -> String {
    let folder = folder.trim().trim_matches('/');
    if folder.is_empty() {
        name.to_owned()
    } else {
        format!("{folder}/{name}")
    }
}

#[component]
fn FileList(tenant: String) -> impl IntoView {
    let session = Session::get();
    let editor = move || session.can(Role::Editor);
    let files = loaded::<Vec<DataFile>>();
    let reload = {
        let tenant = tenant.clone();
        move || {
            let tenant = tenant.clone();
            fetch(files, async move { routes::files(&tenant).await });
        }
    };
    {
        let reload = reload.clone();
        Effect::new(move |_| reload());
    }
    let folder = RwSignal::new(String::new());
    let overwrite = RwSignal::new(false);
    // The path being uploaded and the fraction sent.
    let progress = RwSignal::new(None::<(String, f64)>);
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let chosen = NodeRef::<leptos::html::Input>::new();

    let upload = {
        let (tenant, reload) = (tenant.clone(), reload.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            error.set(None);
            notice.set(None);
            #[cfg(feature = "hydrate")]
            {
                let Some(input) = chosen.get_untracked() else {
                    return;
                };
                let Some(file) = input.files().and_then(|list| list.get(0)) else {
                    return error.set(Some("Choose a file to upload first.".into()));
                };
                let path = joined(&folder.get_untracked(), &file.name());
                let href = routes::upload_href(&tenant, &path, overwrite.get_untracked());
                progress.set(Some((path, 0.0)));
                let reload = reload.clone();
                crate::client::upload::<DataFile>(
                    &href,
                    file,
                    move |sent| {
                        progress.update(|p| {
                            if let Some((_, fraction)) = p {
                                *fraction = sent;
                            }
                        })
                    },
                    move |answer| {
                        progress.set(None);
                        match answer {
                            Ok(file) => {
                                notice.set(Some(format!(
                                    "Uploaded {} ({}).",
                                    file.path,
                                    size(file.size)
                                )));
                                input.set_value("");
                                reload();
                            }
                            Err(e) => error.set(Some(e.message())),
                        }
                    },
                );
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = (&tenant, &reload, chosen);
        }
    };
    let remove = {
        let (tenant, reload) = (tenant.clone(), reload.clone());
        move |path: String| {
            let (tenant, reload) = (tenant.clone(), reload.clone());
            error.set(None);
            leptos::task::spawn_local(async move {
                match routes::delete_file(&tenant, &path).await {
                    Ok(()) => {
                        notice.set(Some(format!("Deleted {path}.")));
                        reload();
                    }
                    Err(e) => error.set(Some(e.message())),
                }
            });
        }
    };

    view! {
        <Show when=editor>
            <form class="upload panel" data-testid="upload-form" on:submit=upload.clone()>
                <label class="field">
                    <span>"File"</span>
                    <input type="file" node_ref=chosen data-testid="upload-file"/>
                </label>
                <label class="field">
                    <span>"Into folder (optional)"</span>
                    <input type="text" placeholder="samples" data-testid="upload-folder"
                        prop:value=move || folder.get() on:input=move |ev| folder.set(event_target_value(&ev))/>
                </label>
                <label class="check">
                    <input type="checkbox" data-testid="upload-overwrite"
                        prop:checked=move || overwrite.get() on:change=move |ev| overwrite.set(event_target_checked(&ev))/>
                    " Replace a file with the same path"
                </label>
                <button type="submit" data-testid="upload-submit" disabled=move || progress.get().is_some()>"Upload"</button>
            </form>
            {move || progress.get().map(|(path, sent)| {
                let percent = (sent * 100.0).round();
                view! {
                    <div class="upload-progress" data-testid="upload-progress">
                        <progress max="100" value=percent.to_string() aria-label=format!("Uploading {path}")></progress>
                        <span>{format!(" Uploading {path}: {percent}%")}</span>
                    </div>
                }
            })}
        </Show>
        {move || error.get().map(|e| alert_with("files-error", e))}
        {move || notice.get().map(|n| view! { <p class="notice" role="status" data-testid="files-notice">{n}</p> })}
        {show(files, move |list: Vec<DataFile>| {
            if list.is_empty() {
                return view! {
                    <p class="muted" data-testid="files-empty">
                        "No files yet. Upload one above (editors), then name its path as an Ingest file step's source."
                    </p>
                }.into_any();
            }
            let (tenant, remove) = (tenant.clone(), remove.clone());
            view! {
                <table class="list" data-testid="file-list">
                    <thead><tr><th>"Path"</th><th>"Size"</th><th>"Modified"</th><th></th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|f| {
                            let href = routes::file_href(&tenant, &f.path);
                            let (path, gone) = (f.path.clone(), f.path.clone());
                            let remove = remove.clone();
                            view! {
                                <tr data-testid="file-row" data-path=f.path.clone()>
                                    <td><a href=href rel="external" download data-testid="file-download"><code>{path}</code></a></td>
                                    <td>{size(f.size)}</td>
                                    <td class="muted">{time::seconds(&f.modified)}</td>
                                    <td>
                                        <Show when=editor>
                                            <button class="link" data-testid="file-delete" on:click={
                                                let (remove, gone) = (remove.clone(), gone.clone());
                                                move |_| remove(gone.clone())
                                            }>"Delete"</button>
                                        </Show>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_paths_join_the_folder_and_the_name() {
        assert_eq!(joined("", "a.csv"), "a.csv");
        assert_eq!(joined(" /samples/ ", "a.csv"), "samples/a.csv");
    }
}
