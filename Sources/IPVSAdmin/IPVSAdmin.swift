// ipvsadm syntax: see issue 3.
