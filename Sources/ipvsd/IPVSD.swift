@main
enum IPVSD {
    static func main() {}
}
