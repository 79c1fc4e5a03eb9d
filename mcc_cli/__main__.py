from mcc_cli import entry

entry()
