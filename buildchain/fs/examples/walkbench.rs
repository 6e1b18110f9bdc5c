fn main() {
    let args: Vec<String> = std::env::args().collect();
    for dir in &args[1..] {
        let t = std::time::Instant::now();
        let n = buildchain_fs::walk_tree(std::path::Path::new(dir))
            .unwrap()
            .len();
        eprintln!("walk {dir}: {n} entries in {:?}", t.elapsed());
    }
}
