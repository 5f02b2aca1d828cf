"""FAN Courier (Romania): AWBs from orders, tracking, and the address checks that come before an AWB."""
