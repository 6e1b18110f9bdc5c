fn main() {
    println!("buildchain: not implemented yet");
}
