//! Reading back which tags a generated config serves, so that a validator can check that a
//! shipped config (ours or the Python original's) serves exactly the images present.

/// A `name:tag` a config routes manifests for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfiguredImage {
    /// The repository as clients address it, name prefix included (for a template, with its
    /// placeholder: `{{ repository }}/nginx`).
    pub name: String,
    pub tag: String,
}

/// The tags whose manifests `config` serves: every `location = "/v2/<name>/manifests/<tag>"`
/// (quoted or not), excluding by-digest locations. Sorted, without duplicates.
pub fn configured_images(config: &str) -> Vec<ConfiguredImage> {
    let mut images: Vec<ConfiguredImage> = config
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("location")?.trim_start();
            let rest = rest.strip_prefix('=')?.trim_start();
            // Quoted up to the closing quote; unquoted up to the block's `{` (a Jinja
            // placeholder holds spaces).
            let path = match rest.strip_prefix('"') {
                Some(quoted) => &quoted[..quoted.find('"')?],
                None => rest.trim_end().strip_suffix('{')?.trim_end(),
            };
            let (name, tag) = path.strip_prefix("/v2/")?.rsplit_once("/manifests/")?;
            if tag.is_empty() || tag.contains(':') || name.is_empty() {
                return None;
            }
            Some(ConfiguredImage {
                name: name.to_string(),
                tag: tag.to_string(),
            })
        })
        .collect();
    images.sort();
    images.dedup();
    images
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tags_of_both_generators() {
        // The Python original's layout: unquoted tags/list, quoted manifests.
        let original = r#"
location = /v2/{{ repository }}/alpine/tags/list {
    types { } default_type "application/json";
    return 200 '{"name": "alpine", "tags": ["3.9"]}';
}

location = "/v2/{{ repository }}/alpine/manifests/3.9" {
    alias {{ registry_root }}/alpine/3.9/;
}

location = "/v2/{{ repository }}/alpine/manifests/sha256:0123" {
    alias {{ registry_root }}/alpine/3.9/;
}

location ~ "/v2/{{ repository }}/alpine/blobs/sha256:([a-f0-9]{64})" {
    alias {{ registry_root }}/alpine/;
}
"#;
        assert_eq!(
            configured_images(original),
            [ConfiguredImage {
                name: "{{ repository }}/alpine".to_string(),
                tag: "3.9".to_string()
            }]
        );
        assert!(configured_images("location = /v2/ {\n    return 200 'ok';\n}\n").is_empty());
    }
}
