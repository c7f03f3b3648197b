from cmdai.cli import main

main()
