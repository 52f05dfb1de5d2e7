//! The layout of the core's source, as `ARCHITECTURE.md` describes it (issue 12):
//! - no module is part of an import cycle, neither file by file nor folder by folder (the modules inside a folder,
//!   each taken with everything below it, depend on each other without a circle);
//! - no source file is over [`MAX_LINES_OF_CODE`] lines of code;
//! - `ARCHITECTURE.md` names every module folder.
//!
//! The imports are read from the source text: comments and literals are dropped, `#[cfg(test)]` items and test
//! modules are left out (tests may use anything), and every path that starts with `crate`, `super`, `self` or a
//! module declared in the file is resolved to the module it names, through re-exports (`crate::Error` is a
//! dependency on `error`, not on the crate root). A declaration (`mod x;`) is not a dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Longest source file, in lines that are neither blank nor comments.
const MAX_LINES_OF_CODE: usize = 600;

type Module = Vec<String>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn show(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

/// Every `.rs` file under `dir`, with the module path it defines.
fn source_files(dir: &Path, module: &Module, out: &mut Vec<(Module, PathBuf)>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir).expect("list src").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().expect("name").to_string_lossy().into_owned();
        if path.is_dir() {
            let mut inner = module.clone();
            inner.push(name);
            source_files(&path, &inner, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut own = module.clone();
            if !(name == "mod" || (module.is_empty() && name == "lib")) {
                own.push(name);
            }
            out.push((own, path));
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Path,
    Open,
    Close,
    Comma,
    Semi,
    Star,
    Hash,
    Bracket(char),
    Other,
}

/// The tokens of `text` that matter for paths; comments, strings and character literals are dropped.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else if i >= chars.len() {
                    break;
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (at(i + 1) == '"' || (at(i + 1) == '#' && (at(i + 2) == '"' || at(i + 2) == '#'))) {
            i += 1;
            let mut hashes = 0;
            while at(i) == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push(Token::Other);
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(Token::Other);
        } else if c == '\'' {
            if at(i + 1) == '\\' {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1; // a lifetime: its name follows as an identifier
            }
            out.push(Token::Other);
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // A byte string or byte character: `b"..."`, `b'x'`.
            if word == "b" && (at(i) == '"' || at(i) == '\'') {
                continue;
            }
            out.push(Token::Ident(word));
        } else {
            out.push(match c {
                ':' if at(i + 1) == ':' => {
                    i += 1;
                    Token::Path
                }
                '{' => Token::Open,
                '}' => Token::Close,
                ',' => Token::Comma,
                ';' => Token::Semi,
                '*' => Token::Star,
                '#' => Token::Hash,
                '[' | ']' | '(' | ')' => Token::Bracket(c),
                c if c.is_whitespace() => {
                    i += 1;
                    continue;
                }
                _ => Token::Other,
            });
            i += 1;
        }
    }
    out
}

/// The index just past the item starting at `i` (a `;`-terminated item, or one whose body is a `{}` block).
fn skip_item(tokens: &[Token], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < tokens.len() {
        match tokens[i] {
            Token::Open => depth += 1,
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            Token::Semi if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

/// The tokens without `#[cfg(test)]` items; also the names of the test modules declared as `#[cfg(test)] mod x;`.
fn without_tests(tokens: &[Token]) -> (Vec<Token>, Vec<String>) {
    let ident = |t: &Token, s: &str| matches!(t, Token::Ident(w) if w == s);
    let mut kept = Vec::new();
    let mut test_modules = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let is_cfg_test = tokens[i] == Token::Hash
            && tokens.get(i + 1) == Some(&Token::Bracket('['))
            && tokens.get(i + 2).is_some_and(|t| ident(t, "cfg"))
            && tokens.get(i + 3) == Some(&Token::Bracket('('))
            && tokens.get(i + 4).is_some_and(|t| ident(t, "test"))
            && tokens.get(i + 5) == Some(&Token::Bracket(')'))
            && tokens.get(i + 6) == Some(&Token::Bracket(']'));
        if !is_cfg_test {
            kept.push(tokens[i].clone());
            i += 1;
            continue;
        }
        let mut j = i + 7;
        // Further attributes of the same item.
        while tokens.get(j) == Some(&Token::Hash) {
            while j < tokens.len() && tokens[j] != Token::Bracket(']') {
                j += 1;
            }
            j += 1;
        }
        let mut k = j;
        while tokens.get(k).is_some_and(|t| ident(t, "pub") || matches!(t, Token::Bracket(_))) {
            k += 1;
        }
        if tokens.get(k).is_some_and(|t| ident(t, "mod")) && tokens.get(k + 2) == Some(&Token::Semi) {
            if let Some(Token::Ident(name)) = tokens.get(k + 1) {
                test_modules.push(name.clone());
            }
        }
        i = skip_item(tokens, j);
    }
    (kept, test_modules)
}

/// One source file, read.
struct Source {
    /// Modules declared in the file (`mod x;` or `mod x { .. }`), tests left out.
    children: BTreeSet<String>,
    /// Every path the file's code names: the leaves of `use` trees (with the name they bind, if any) and the
    /// paths in expressions and types that start with `crate`, `super`, `self` or a child module.
    paths: Vec<(Vec<String>, Option<String>)>,
}

/// Reads a use tree starting at `i` under `prefix`; returns the index after it.
fn use_tree(tokens: &[Token], mut i: usize, prefix: &[String], out: &mut Vec<(Vec<String>, Option<String>)>) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(i) {
            Some(Token::Ident(w)) => {
                if w == "self" && path.len() == prefix.len() && !prefix.is_empty() {
                    // `self` in a group names the group's prefix.
                } else {
                    path.push(w.clone());
                }
                i += 1;
                if tokens.get(i) == Some(&Token::Path) {
                    i += 1;
                    continue;
                }
                let mut bound = path.last().cloned();
                if matches!(tokens.get(i), Some(Token::Ident(w)) if w == "as") {
                    if let Some(Token::Ident(alias)) = tokens.get(i + 1) {
                        bound = Some(alias.clone());
                    }
                    i += 2;
                }
                out.push((path, bound));
                return i;
            }
            Some(Token::Star) => {
                out.push((path, None));
                return i + 1;
            }
            Some(Token::Open) => {
                i += 1;
                while i < tokens.len() && tokens[i] != Token::Close {
                    if tokens[i] == Token::Comma {
                        i += 1;
                        continue;
                    }
                    i = use_tree(tokens, i, &path, out);
                }
                return i + 1;
            }
            _ => return i + 1,
        }
    }
}

fn read_source(text: &str) -> (Source, Vec<String>) {
    let (tokens, test_modules) = without_tests(&tokens(text));
    let ident = |i: usize| match tokens.get(i) {
        Some(Token::Ident(w)) => Some(w.as_str()),
        _ => None,
    };
    let mut children = BTreeSet::new();
    for i in 0..tokens.len() {
        if ident(i) == Some("mod") {
            if let Some(name) = ident(i + 1) {
                if matches!(tokens.get(i + 2), Some(Token::Semi | Token::Open)) {
                    children.insert(name.to_owned());
                }
            }
        }
    }
    let mut paths = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let after_path = i > 0 && tokens[i - 1] == Token::Path;
        match ident(i) {
            Some("use") => {
                i = use_tree(&tokens, i + 1, &[], &mut paths);
                continue;
            }
            Some(w) if !after_path && (["crate", "super", "self"].contains(&w) || children.contains(w)) => {
                let mut path = vec![w.to_owned()];
                let mut j = i + 1;
                while tokens.get(j) == Some(&Token::Path) {
                    match ident(j + 1) {
                        Some(next) => path.push(next.to_owned()),
                        None => break,
                    }
                    j += 2;
                }
                if path.len() > 1 {
                    paths.push((path, None));
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    (Source { children, paths }, test_modules)
}

/// The core's modules and what each one's code depends on.
struct Graph {
    modules: BTreeSet<Module>,
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

impl Graph {
    fn read() -> Graph {
        let mut files = Vec::new();
        source_files(&src_dir(), &Vec::new(), &mut files);
        let mut sources = BTreeMap::new();
        let mut tests: BTreeSet<Module> = BTreeSet::new();
        for (module, path) in &files {
            let (source, test_modules) = read_source(&fs::read_to_string(path).expect("read source"));
            for name in test_modules {
                let mut test = module.clone();
                test.push(name);
                tests.insert(test);
            }
            sources.insert(module.clone(), source);
        }
        let is_test = |m: &Module| tests.iter().any(|t| m.starts_with(t));
        sources.retain(|m, _| !is_test(m));
        let modules: BTreeSet<Module> = sources.keys().cloned().collect();

        // What each name a module binds with `use` stands for, as written.
        let mut written: BTreeMap<(Module, String), Vec<String>> = BTreeMap::new();
        for (module, source) in &sources {
            for (path, bound) in &source.paths {
                if let Some(name) = bound {
                    written.insert((module.clone(), name.clone()), path.clone());
                }
            }
        }
        // A path as written in `module`, made absolute; `None` for another crate or the standard library.
        fn absolute(
            module: &Module,
            path: &[String],
            sources: &BTreeMap<Module, Source>,
            written: &BTreeMap<(Module, String), Vec<String>>,
            depth: usize,
        ) -> Option<Module> {
            let first = path.first()?;
            let mut base: Module = match first.as_str() {
                "crate" => Vec::new(),
                "self" => module.clone(),
                "super" => module[..module.len().checked_sub(1)?].to_vec(),
                first if sources[module].children.contains(first) => {
                    let mut m = module.clone();
                    m.extend(path.iter().cloned());
                    return Some(m);
                }
                first => {
                    // A name this module imported (`use device::vault; ... vault::Kek`).
                    let imported = written.get(&(module.clone(), first.to_owned())).filter(|p| p.len() > 1)?;
                    if depth > 8 {
                        return None;
                    }
                    let mut full = imported.clone();
                    full.extend(path[1..].iter().cloned());
                    return absolute(module, &full, sources, written, depth + 1);
                }
            };
            let mut rest = &path[1..];
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            Some(base)
        }
        let mut bindings: BTreeMap<(Module, String), Module> = BTreeMap::new();
        for ((module, name), path) in &written {
            if let Some(target) = absolute(module, path, &sources, &written, 0) {
                bindings.insert((module.clone(), name.clone()), target);
            }
        }
        // The module an absolute path lands in, following module aliases and re-exports.
        let resolve = |path: &Module| -> Module {
            let mut path = path.clone();
            for _ in 0..32 {
                let mut module: Module = Vec::new();
                let mut k = 0;
                while k < path.len() {
                    let mut next = module.clone();
                    next.push(path[k].clone());
                    if modules.contains(&next) {
                        module = next;
                        k += 1;
                    } else if let Some(target) = bindings.get(&(module.clone(), path[k].clone())) {
                        // A re-export: continue from what it stands for.
                        let mut rewritten = target.clone();
                        rewritten.extend(path[k + 1..].iter().cloned());
                        path = rewritten;
                        break;
                    } else {
                        return module;
                    }
                }
                if k == path.len() {
                    return module;
                }
            }
            panic!("re-exports of {} do not settle", path.join("::"));
        };
        let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (module, source) in &sources {
            for (path, _) in &source.paths {
                if let Some(target) = absolute(module, path, &sources, &written, 0) {
                    let target = resolve(&target);
                    if &target != module && !is_test(&target) {
                        edges.entry(module.clone()).or_default().insert(target);
                    }
                }
            }
        }
        Graph { modules, edges }
    }

    /// The circles (strongly connected components of more than one node) of `edges`.
    fn circles(nodes: &BTreeSet<Module>, edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
        let reach = |from: &Module| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![from.clone()];
            while let Some(m) = stack.pop() {
                for next in edges.get(&m).into_iter().flatten() {
                    if seen.insert(next.clone()) {
                        stack.push(next.clone());
                    }
                }
            }
            seen
        };
        let reachable: BTreeMap<&Module, BTreeSet<Module>> = nodes.iter().map(|m| (m, reach(m))).collect();
        let mut circles: Vec<Vec<Module>> = Vec::new();
        for m in nodes {
            if !reachable[m].contains(m) || circles.iter().any(|c| c.contains(m)) {
                continue;
            }
            let circle: Vec<Module> =
                nodes.iter().filter(|n| reachable[m].contains(*n) && reachable[*n].contains(m)).cloned().collect();
            circles.push(circle);
        }
        circles
    }

    /// Circles between the modules inside each folder, each module taken with everything below it.
    fn folder_circles(
        modules: &BTreeSet<Module>,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
    ) -> Vec<(Module, Vec<Vec<Module>>)> {
        let mut found = Vec::new();
        for parent in modules {
            let children: BTreeSet<Module> =
                modules.iter().filter(|m| m.len() == parent.len() + 1 && m.starts_with(parent)).cloned().collect();
            let child_of = |m: &Module| children.iter().find(|c| m.starts_with(c)).cloned();
            let mut between: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
            for (from, targets) in edges {
                for to in targets {
                    if let (Some(a), Some(b)) = (child_of(from), child_of(to)) {
                        if a != b {
                            between.entry(a).or_default().insert(b);
                        }
                    }
                }
            }
            let circles = Graph::circles(&children, &between);
            if !circles.is_empty() {
                found.push((parent.clone(), circles));
            }
        }
        found
    }
}

fn describe(circles: &[Vec<Module>]) -> String {
    circles.iter().map(|c| c.iter().map(show).collect::<Vec<_>>().join(" <-> ")).collect::<Vec<_>>().join("; ")
}

#[test]
fn layout_no_module_is_part_of_an_import_cycle() {
    let graph = Graph::read();
    let circles = Graph::circles(&graph.modules, &graph.edges);
    assert!(circles.is_empty(), "import cycles between files: {}", describe(&circles));
    let folders = Graph::folder_circles(&graph.modules, &graph.edges);
    let text: Vec<String> = folders.iter().map(|(p, c)| format!("in {}: {}", show(p), describe(c))).collect();
    assert!(folders.is_empty(), "import cycles between folders: {}", text.join("; "));
}

#[test]
fn layout_the_reader_sees_the_dependencies_the_architecture_names() {
    // The checker itself: known edges of the layout are found, and a cycle is reported as one.
    let graph = Graph::read();
    let m = |s: &str| -> Module { s.split("::").map(str::to_owned).collect() };
    let depends = |a: &str, b: &str| graph.edges.get(&m(a)).is_some_and(|t| t.contains(&m(b)));
    assert!(depends("device::checkin", "pipeline::engine"));
    assert!(depends("device::vault", "device::vault::seal"));
    assert!(depends("pipeline::detect", "error"), "`crate::Error` resolves through the root's re-export");
    assert!(!depends("pipeline::engine", "device::checkin"));
    assert!(!graph.modules.iter().any(|m| m.contains(&"tests".to_owned())), "test modules are left out");

    let mut edges = graph.edges.clone();
    edges.entry(m("pipeline::decode")).or_default().insert(m("pipeline::engine"));
    let circles = Graph::circles(&graph.modules, &edges);
    assert_eq!(circles, vec![vec![m("pipeline::decode"), m("pipeline::engine")]]);

    // The error type naming a pipeline type, as it once did: a circle between `error` and the `pipeline` folder
    // (through `pipeline::detect`'s use of `Error`), found at the crate root.
    let mut edges = graph.edges.clone();
    edges.entry(m("error")).or_default().insert(m("pipeline::quality"));
    assert!(!Graph::circles(&graph.modules, &edges).is_empty());
    let folders = Graph::folder_circles(&graph.modules, &edges);
    assert!(folders.iter().any(|(parent, circles)| parent.is_empty() && circles == &[vec![m("error"), m("pipeline")]]));
}

#[test]
fn layout_no_source_file_is_over_six_hundred_lines_of_code() {
    let mut files = Vec::new();
    source_files(&src_dir(), &Vec::new(), &mut files);
    let mut long = Vec::new();
    for (_, path) in files {
        let text = fs::read_to_string(&path).expect("read source");
        let code = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("//")).count();
        if code > MAX_LINES_OF_CODE {
            long.push(format!("{} ({code} lines of code)", path.display()));
        }
    }
    assert!(long.is_empty(), "split these files: {}", long.join(", "));
}

#[test]
fn layout_architecture_names_every_module_folder() {
    let architecture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ARCHITECTURE.md");
    let text = fs::read_to_string(&architecture).expect("ARCHITECTURE.md at the repository root");
    let mut missing = Vec::new();
    let mut stack = vec![src_dir()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("list") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                let relative = path.strip_prefix(src_dir()).expect("under src").to_string_lossy().replace('\\', "/");
                if !text.contains(&format!("{relative}/")) {
                    missing.push(relative);
                }
                stack.push(path);
            }
        }
    }
    missing.sort();
    assert!(missing.is_empty(), "ARCHITECTURE.md does not name these folders (as `folder/`): {missing:?}");
}
