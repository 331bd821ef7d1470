fn main() {
    let key = std::env::args().nth(1).unwrap();
    let a = newsledger::demo::site::seeds()
        .into_iter()
        .find(|a| a.key == key)
        .unwrap();
    let url = format!("https://{}.example{}", a.key, a.path);
    print!(
        "{}",
        newsledger::demo::site::render(&a, &url, &newsledger::demo::site::Chrome::visit(0))
    );
}
