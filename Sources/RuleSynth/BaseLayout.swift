import KubeModel

/// kproxy's fixed objects in each family's table: kube-proxy's nftables layout (base chains, dispatch
/// maps, helper sets), with per-Service work moved into map elements wherever upstream allows.
///
/// Departures from upstream, all to cut per-Service objects and jumps (DESIGN.md §3):
/// - No `mark-for-masquerade` chain: the mark is set inline (upstream v1.36 did the same), once in
///   `services` for off-cluster traffic to ClusterIPs instead of once per Service chain.
/// - No endpoint chains: hairpin traffic is caught by the `hairpin-connections` set in `masquerading`
///   (upstream v1.36), and the DNAT happens in the Service chain itself.
/// - The pod-source test uses the named interval set `cluster-cidrs` rather than a literal, so several
///   cluster CIDRs need no anonymous set.
enum BaseLayout {
    static let tableName = "kproxy"
    static let tableComment = "rules for kproxy"

    static let clusterIPs = "cluster-ips"
    static let nodePortIPs = "nodeport-ips"
    static let clusterCIDRs = "cluster-cidrs"
    static let hairpin = "hairpin-connections"
    static let serviceIPs = "service-ips"
    static let serviceNodePorts = "service-nodeports"
    static let noEndpointServices = "no-endpoint-services"
    static let noEndpointNodePorts = "no-endpoint-nodeports"
    static let firewallIPs = "firewall-ips"

    static let rejectChain = "reject-chain"
    static let servicesChain = "services"
    static let masqueradingChain = "masquerading"
    static let firewallCheck = "firewall-check"
    static let serviceEndpointsCheck = "service-endpoints-check"
    static let nodePortEndpointsCheck = "nodeport-endpoints-check"
    static let clusterIPsCheck = "cluster-ips-check"

    static func addressType(_ family: TableFamily) -> DataType { family == .ip ? .ipv4Addr : .ipv6Addr }

    /// The table with every fixed set, map and chain, and the node-derived elements.
    static func table(_ family: TableFamily, node: NodeConfig) -> Table {
        let addr = addressType(family)
        let allNodePorts = node.nodePortsOnAllAddresses(family)
        var sets: [NamedSet] = [
            NamedSet(name: clusterIPs, key: [addr], comment: "Active ClusterIPs"),
            NamedSet(
                name: clusterCIDRs, key: [addr], flags: .interval, comment: "Pod traffic sources",
                elements: node.clusterCIDRs(family).map { SetElement(key: [.prefix($0)]) }),
            NamedSet(name: hairpin, key: [addr, addr, .inetProto, .inetService], comment: "service hairpin connections"),
            NamedSet(
                name: serviceIPs, key: [addr, .inetProto, .inetService], data: [.verdict],
                comment: "ClusterIP, ExternalIP and LoadBalancer IP traffic"),
            NamedSet(
                name: serviceNodePorts, key: [.inetProto, .inetService], data: [.verdict], comment: "NodePort traffic"),
            NamedSet(
                name: noEndpointServices, key: [addr, .inetProto, .inetService], data: [.verdict],
                comment: "vmap to drop or reject packets to services with no endpoints"),
            NamedSet(
                name: noEndpointNodePorts, key: [.inetProto, .inetService], data: [.verdict],
                comment: "vmap to drop or reject packets to service nodeports with no endpoints"),
            NamedSet(
                name: firewallIPs, key: [addr, .inetProto, .inetService], data: [.verdict],
                comment: "destinations that are subject to LoadBalancerSourceRanges"),
        ]
        if !allNodePorts {
            sets.append(
                NamedSet(
                    name: nodePortIPs, key: [addr], comment: "IPs that accept NodePort traffic",
                    elements: node.nodePortIPs(family).map { SetElement(key: [.address($0)]) }))
        }
        return Table(
            family: family, name: tableName, chains: chains(family, node: node), sets: sets, comment: tableComment)
    }

    static func chains(_ family: TableFamily, node: NodeConfig) -> [Chain] {
        func rule(_ build: (inout RuleBuilder) -> Void, comment: String? = nil) -> Rule {
            var builder = RuleBuilder(family)
            build(&builder)
            return builder.rule(comment: comment)
        }
        func jumpIfNew(_ chain: String) -> Rule {
            rule {
                $0.ctStateNew()
                $0.verdict(.jump(chain))
            }
        }
        let dispatchKey: [Field] = [.daddr, .l4proto, .dport]
        let mark = node.masqueradeMark
        let allNodePorts = node.nodePortsOnAllAddresses(family)
        let loopback = family == .ip ? CIDR(address: .v4(0x7f00_0000), prefixLength: 8)! : nil
        /// `ip daddr @nodeport-ips`, or under "all" addresses, any local address but loopback.
        func nodePortDestination(_ builder: inout RuleBuilder, requireLocal: Bool) {
            if allNodePorts {
                if requireLocal { builder.fibLocal(.daddr) }
                if let loopback {
                    builder.match(.daddr, loopback, negate: true)
                } else {
                    builder.match(.daddr, IPAddress.v6(high: 0, low: 1), negate: true)
                }
            } else {
                builder.lookup([.daddr], in: nodePortIPs)
            }
        }

        var services: [Rule] = []
        if node.masqueradeAll {
            services.append(
                rule({
                    $0.lookup([.daddr], in: clusterIPs)
                    $0.setMark(mark)
                }, comment: "masquerade all ClusterIP traffic"))
        } else if !node.clusterCIDRs(family).isEmpty {
            services.append(
                rule({
                    $0.lookup([.daddr], in: clusterIPs)
                    $0.lookup([.saddr], in: clusterCIDRs, negate: true)
                    $0.setMark(mark)
                }, comment: "masquerade ClusterIP traffic from outside the cluster"))
        }
        services.append(rule { $0.vmap(dispatchKey, serviceIPs) })
        services.append(
            rule {
                nodePortDestination(&$0, requireLocal: true)
                $0.vmap([.l4proto, .dport], serviceNodePorts)
            })

        return [
            Chain(
                name: "filter-prerouting-pre-dnat", base: BaseChainSpec(type: .filter, hook: .prerouting, priority: -110),
                rules: [jumpIfNew(firewallCheck)]),
            Chain(
                name: "filter-output-pre-dnat", base: BaseChainSpec(type: .filter, hook: .output, priority: -110),
                rules: [jumpIfNew(firewallCheck)]),
            Chain(
                name: "filter-forward", base: BaseChainSpec(type: .filter, hook: .forward, priority: 0),
                rules: [jumpIfNew(serviceEndpointsCheck), jumpIfNew(clusterIPsCheck)]),
            Chain(
                name: "filter-input", base: BaseChainSpec(type: .filter, hook: .input, priority: 0),
                rules: [jumpIfNew(nodePortEndpointsCheck), jumpIfNew(serviceEndpointsCheck)]),
            Chain(
                name: "filter-output", base: BaseChainSpec(type: .filter, hook: .output, priority: 0),
                rules: [jumpIfNew(serviceEndpointsCheck), jumpIfNew(clusterIPsCheck)]),
            Chain(
                name: "nat-prerouting", base: BaseChainSpec(type: .nat, hook: .prerouting, priority: -100),
                rules: [rule { $0.verdict(.jump(servicesChain)) }]),
            Chain(
                name: "nat-output", base: BaseChainSpec(type: .nat, hook: .output, priority: -100),
                rules: [rule { $0.verdict(.jump(servicesChain)) }]),
            Chain(
                name: "nat-postrouting", base: BaseChainSpec(type: .nat, hook: .postrouting, priority: 100),
                rules: [rule { $0.verdict(.jump(masqueradingChain)) }]),
            Chain(name: firewallCheck, rules: [rule { $0.vmap(dispatchKey, firewallIPs) }]),
            Chain(name: serviceEndpointsCheck, rules: [rule { $0.vmap(dispatchKey, noEndpointServices) }]),
            Chain(
                name: nodePortEndpointsCheck,
                rules: [
                    rule {
                        nodePortDestination(&$0, requireLocal: false)
                        $0.vmap([.l4proto, .dport], noEndpointNodePorts)
                    }
                ]),
            Chain(
                name: clusterIPsCheck,
                rules: [
                    rule(
                        {
                            $0.lookup([.daddr], in: clusterIPs)
                            $0.reject()
                        }, comment: "Reject traffic to invalid ports of ClusterIPs")
                ]),
            Chain(name: rejectChain, rules: [rule { $0.reject() }]),
            Chain(name: servicesChain, rules: services),
            Chain(
                name: masqueradingChain,
                rules: [
                    rule {
                        $0.markIsSet(mark)
                        $0.toggleMark(mark)
                        $0.masqueradeFullyRandom()
                    },
                    rule {
                        $0.ctStatusDNAT()
                        $0.lookup([.saddr, .daddr, .l4proto, .dport], in: hairpin)
                        $0.masqueradeFullyRandom()
                    },
                ]),
        ]
    }
}
